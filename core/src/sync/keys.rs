//! Which piece of master data an event edits: two edits of the same key made without
//! seeing each other are a conflict, settled by the server's order.

use crate::events::EventBody;

/// The key of the master data `body` replaces, or `None` for facts that only add
/// (a passage, a sale, a meal served) and so never conflict.
pub fn master_key(body: &EventBody) -> Option<String> {
    use EventBody as E;
    let key = match body {
        E::ClassRenamed { class_id, .. } | E::ClassArchived { class_id } => {
            format!("class:{class_id}")
        }
        E::PersonUpdated { person_id, .. } => format!("person:{person_id}:details"),
        E::PupilMoved { person_id, .. } => format!("person:{person_id}:class"),
        E::PersonStatusChanged { person_id, .. } => format!("person:{person_id}:status"),
        E::PhotoSet { person_id, .. } => format!("person:{person_id}:photo"),
        E::GuardianLinked {
            guardian_id,
            pupil_id,
            ..
        }
        | E::GuardianUnlinked {
            guardian_id,
            pupil_id,
        } => format!("guardian:{guardian_id}:{pupil_id}"),
        E::CardBound { card, .. } | E::CardStateChanged { card, .. } => format!("card:{card}"),
        E::StaffRolesSet { person_id, .. } => format!("staff:{person_id}:roles"),
        E::StaffPasswordSet { person_id, .. } => format!("staff:{person_id}:password"),
        E::StaffPinSet { person_id, .. } => format!("staff:{person_id}:pin"),
        E::AccessRulesConfigured { .. } => "access_rules".to_owned(),
        E::CanteenConfigured { .. } => "canteen_settings".to_owned(),
        E::ProductSaved { product } => format!("product:{}", product.product_id),
        E::ComplexSaved { complex } => format!("complex:{}", complex.complex_id),
        E::DayMenuSet { school_date, .. } => format!("menu:{school_date}"),
        E::BenefitCategorySaved { category } => {
            format!("benefit_category:{}", category.category_id)
        }
        E::BenefitGranted { grant } => format!("benefit_grant:{}", grant.grant_id),
        E::BenefitRevoked { grant_id, .. } => format!("benefit_grant:{grant_id}"),
        E::CanteenBanSet { ban, .. } => format!("ban:{}", ban.ban_id),
        E::CanteenBanLifted { ban_id, .. } => format!("ban:{ban_id}"),
        E::DailyLimitSet { person_id, .. } => format!("limit:{person_id}"),
        E::BookTitleSaved { title } => format!("book_title:{}", title.title_id),
        E::BookCopyAdded { copy } => format!("book_copy:{}", copy.barcode),
        // A copy's state changes by loans too, but those are facts; a librarian's mark
        // (lost, written off, found) is the edit two desks may make at once.
        E::BookCopyStateChanged { barcode, .. } => format!("book_copy:{barcode}:state"),
        _ => return None,
    };
    Some(key)
}
