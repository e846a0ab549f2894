use super::*;

#[test]
fn uid_is_everything_before_90_00() {
    let reply = [0x04, 0xA2, 0x3B, 0x1C, 0x90, 0x00];
    let uid = uid_from_response(&reply).unwrap();
    assert_eq!(uid, [0x04, 0xA2, 0x3B, 0x1C]);
    assert_eq!(hex(uid), "04A23B1C");
    assert_eq!(CardId::from_bytes(uid).unwrap().to_string(), "32:04A23B1C");
}

#[test]
fn refused_or_short_replies_are_errors() {
    assert!(uid_from_response(&[0x6A, 0x81])
        .unwrap_err()
        .contains("6A 81"));
    assert!(uid_from_response(&[0x90, 0x00]).is_err());
    assert!(uid_from_response(&[0x90]).is_err());
    assert!(uid_from_response(&[]).is_err());
}

#[test]
fn service_loss_is_told_from_card_trouble() {
    assert!(is_service_lost(Error::NoService));
    assert!(is_service_lost(Error::ServiceStopped));
    assert!(!is_service_lost(Error::RemovedCard));
    assert!(!is_service_lost(Error::Timeout));
    assert!(ReadError::Card("x".to_owned()).service_lost().is_none());
}
