//! The command line of `schoolcard`: where the database is, whether to seed a demo school,
//! which language the screens start in. Parsed by hand (four flags do not need a crate),
//! as a pure function of the arguments and the environment so it is tested without a
//! window.

use std::ffi::OsString;
use std::path::PathBuf;

pub const USAGE: &str = "\
schoolcard — the workstation of «Проход и питание»

usage: schoolcard [--db PATH] [--demo] [--lang ru|en]
       schoolcard [--db PATH] --verify-journal

  --db PATH      the school's database file (created if absent);
                 default: $SCHOOLCARD_DB, else <data dir>/schoolcard/school.sqlite
  --demo         if the database does not exist yet, generate the demo school into it
  --lang ru|en   the language the screens start in (default: ru, or the last choice)
  --verify-journal
                 check the journal's hash chain without opening a window: prints every
                 edited, inserted or deleted row; exits 0 when intact, 1 when not
  -h, --help     print this and exit
  -V, --version  print the version and exit

environment:
  SCHOOLCARD_DB=PATH          same as --db (the flag wins)
  SCHOOLCARD_LANG=ru|en       same as --lang (the flag wins)
  SCHOOLCARD_REPORT_READY=1   print `ready <ms since start>` on stdout once the
                              sign-in screen is on screen (for start-up benchmarks)";

/// The languages the message catalogue has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ru,
    En,
}

impl Lang {
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    Run(Options),
    Help,
    Version,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub db_path: PathBuf,
    pub demo: bool,
    /// `None`: the screens start in the language chosen last time (Russian the first time).
    pub lang: Option<Lang>,
    pub report_ready: bool,
    /// Check the journal and exit, no window.
    pub verify_journal: bool,
}

/// What the process was started with, besides its arguments.
pub struct Environment {
    pub db: Option<OsString>,
    pub lang: Option<OsString>,
    pub report_ready: Option<OsString>,
    /// The OS data directory (`~/.local/share` on Linux, `%APPDATA%` on Windows).
    pub data_dir: Option<PathBuf>,
}

impl Environment {
    pub fn of_process() -> Environment {
        Environment {
            db: std::env::var_os("SCHOOLCARD_DB").filter(|v| !v.is_empty()),
            lang: std::env::var_os("SCHOOLCARD_LANG").filter(|v| !v.is_empty()),
            report_ready: std::env::var_os("SCHOOLCARD_REPORT_READY"),
            data_dir: dirs::data_dir(),
        }
    }
}

/// Parses the arguments (without the program name). The error is one line for stderr.
pub fn parse(
    args: impl IntoIterator<Item = OsString>,
    env: &Environment,
) -> Result<Invocation, String> {
    let mut db: Option<PathBuf> = None;
    let mut demo = false;
    let mut verify_journal = false;
    let mut lang = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let arg = arg
            .into_string()
            .map_err(|a| format!("unreadable argument {a:?}"))?;
        // Both `--db PATH` and `--db=PATH`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(OsString::from(v))),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<OsString, String> {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value (see --help)"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Invocation::Help),
            "-V" | "--version" => return Ok(Invocation::Version),
            "--demo" => demo = true,
            "--verify-journal" => verify_journal = true,
            "--db" => {
                let path = value("--db")?;
                if path.is_empty() {
                    return Err("--db needs a non-empty path".into());
                }
                db = Some(PathBuf::from(path));
            }
            "--lang" => lang = Some(parse_lang("--lang", &value("--lang")?)?),
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    let db_path = match db.or_else(|| env.db.clone().map(PathBuf::from)) {
        Some(path) => path,
        None => env
            .data_dir
            .as_ref()
            .map(|d| d.join("schoolcard").join("school.sqlite"))
            .ok_or("no data directory is known for this user: pass --db PATH")?,
    };
    let lang = match (lang, &env.lang) {
        (Some(lang), _) => Some(lang),
        (None, Some(value)) => Some(parse_lang("SCHOOLCARD_LANG", value)?),
        (None, None) => None,
    };
    let report_ready = env.report_ready.as_deref().is_some_and(|v| v == "1");
    Ok(Invocation::Run(Options {
        db_path,
        demo,
        lang,
        report_ready,
        verify_journal,
    }))
}

fn parse_lang(source: &str, value: &OsString) -> Result<Lang, String> {
    match value.to_str() {
        Some("ru") => Ok(Lang::Ru),
        Some("en") => Ok(Lang::En),
        other => Err(format!(
            "{source} is ru or en, not {:?}",
            other.unwrap_or("?")
        )),
    }
}

/// On Linux and the BSDs GTK needs an X11 or Wayland display; without one it aborts with a
/// cryptic message. `None` when there is a display (or the platform has no such notion).
pub fn missing_display(var: impl Fn(&str) -> Option<OsString>) -> Option<&'static str> {
    if cfg!(all(unix, not(target_os = "macos"))) {
        let set = |name: &str| var(name).is_some_and(|v| !v.is_empty());
        if !set("DISPLAY") && !set("WAYLAND_DISPLAY") {
            return Some(
                "schoolcard: no display found (DISPLAY/WAYLAND_DISPLAY unset) — run it in a desktop session, \
                 or use `xvfb-run -a schoolcard …`",
            );
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(db: Option<&str>, ready: Option<&str>) -> Environment {
        Environment {
            db: db.map(OsString::from),
            lang: None,
            report_ready: ready.map(OsString::from),
            data_dir: Some(PathBuf::from("/home/u/.local/share")),
        }
    }

    fn run(args: &[&str], env: &Environment) -> Result<Invocation, String> {
        parse(args.iter().map(OsString::from), env)
    }

    fn options(db: &str, demo: bool, lang: Option<Lang>, report_ready: bool) -> Invocation {
        Invocation::Run(Options {
            db_path: PathBuf::from(db),
            demo,
            lang,
            report_ready,
            verify_journal: false,
        })
    }

    #[test]
    fn command_lines() {
        let none = env(None, None);
        let cases: &[(&[&str], Result<Invocation, String>)] = &[
            (
                &[],
                Ok(options(
                    "/home/u/.local/share/schoolcard/school.sqlite",
                    false,
                    None,
                    false,
                )),
            ),
            (
                &["--db", "/tmp/c.sqlite", "--verify-journal"],
                Ok(Invocation::Run(Options {
                    db_path: PathBuf::from("/tmp/c.sqlite"),
                    demo: false,
                    lang: None,
                    report_ready: false,
                    verify_journal: true,
                })),
            ),
            (
                &["--db", "/tmp/a.sqlite", "--demo"],
                Ok(options("/tmp/a.sqlite", true, None, false)),
            ),
            (
                &["--db=/tmp/b.sqlite", "--lang", "en"],
                Ok(options("/tmp/b.sqlite", false, Some(Lang::En), false)),
            ),
            (
                &["--lang=ru"],
                Ok(options(
                    "/home/u/.local/share/schoolcard/school.sqlite",
                    false,
                    Some(Lang::Ru),
                    false,
                )),
            ),
            (&["--help", "--bogus"], Ok(Invocation::Help)),
            (&["-V"], Ok(Invocation::Version)),
            (
                &["--lang", "de"],
                Err("--lang is ru or en, not \"de\"".into()),
            ),
            (&["--db"], Err("--db needs a value (see --help)".into())),
            (&["--db="], Err("--db needs a non-empty path".into())),
            (
                &["--verbose"],
                Err("unknown argument \"--verbose\" (see --help)".into()),
            ),
        ];
        for (args, expected) in cases {
            assert_eq!(&run(args, &none), expected, "{args:?}");
        }
    }

    #[test]
    fn environment_gives_the_db_and_the_flag_wins() {
        let e = env(Some("/srv/school.sqlite"), Some("1"));
        assert_eq!(
            run(&[], &e),
            Ok(options("/srv/school.sqlite", false, None, true))
        );
        assert_eq!(
            run(&["--db", "/tmp/x"], &e),
            Ok(options("/tmp/x", false, None, true))
        );
        assert_eq!(
            run(&[], &env(None, Some("0"))),
            Ok(options(
                "/home/u/.local/share/schoolcard/school.sqlite",
                false,
                None,
                false
            ))
        );
    }

    #[test]
    fn environment_gives_the_language_and_the_flag_wins() {
        let e = |lang: &str| Environment {
            lang: Some(OsString::from(lang)),
            ..env(Some("/s.sqlite"), None)
        };
        assert_eq!(
            run(&[], &e("en")),
            Ok(options("/s.sqlite", false, Some(Lang::En), false))
        );
        assert_eq!(
            run(&["--lang", "ru"], &e("en")),
            Ok(options("/s.sqlite", false, Some(Lang::Ru), false))
        );
        assert_eq!(
            run(&[], &e("fr")),
            Err("SCHOOLCARD_LANG is ru or en, not \"fr\"".into())
        );
    }

    #[test]
    fn display_check() {
        let with = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        if cfg!(all(unix, not(target_os = "macos"))) {
            assert!(missing_display(with(&[])).is_some());
            assert!(missing_display(with(&[("DISPLAY", "")])).is_some());
            assert!(missing_display(with(&[("DISPLAY", ":99")])).is_none());
            assert!(missing_display(with(&[("WAYLAND_DISPLAY", "wayland-0")])).is_none());
        } else {
            assert!(missing_display(with(&[])).is_none());
        }
    }
}
