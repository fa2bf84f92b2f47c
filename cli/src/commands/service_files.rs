//! What `apero service install` writes, as pure functions of where things
//! are: the systemd user unit, XDG autostart entries, launchd agents. Kept
//! apart from the commands so every platform's files are unit-tested on any
//! platform.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// First line of every file we write: `uninstall` removes only files that
/// carry it, so it never deletes something the user wrote.
pub const MARKER: &str = "Written by `apero service install`; `apero service uninstall` removes it.";

/// The tray starts the daemon through it when it is there.
pub const UNIT_NAME: &str = apero_control::SYSTEMD_UNIT;
pub const LAUNCHD_DAEMON: &str = "org.apero.aperod";
pub const LAUNCHD_TRAY: &str = "org.apero.tray";

/// Where the binaries and the user's directories are.
#[derive(Debug, Clone)]
pub struct Layout {
    /// `$XDG_CONFIG_HOME`, else `$HOME/.config`.
    pub config: PathBuf,
    pub home: PathBuf,
    pub aperod: PathBuf,
    pub apero: PathBuf,
    pub tray: PathBuf,
    /// `--home DIR` given to apero, passed on to the daemon and the tray.
    pub apero_home: Option<PathBuf>,
}

impl Layout {
    pub fn unit_path(&self) -> PathBuf {
        apero_control::systemd_unit_path(&self.config)
    }

    pub fn autostart_dir(&self) -> PathBuf {
        self.config.join("autostart")
    }

    /// What records which files and directories an install created.
    pub fn manifest_path(&self) -> PathBuf {
        self.config.join("apero").join("service-install.json")
    }

    fn home_args(&self) -> Vec<String> {
        match &self.apero_home {
            Some(h) => vec!["--home".into(), h.display().to_string()],
            None => Vec::new(),
        }
    }

    fn command(&self, bin: &Path, args: &[&str]) -> Vec<String> {
        let mut v = vec![bin.display().to_string()];
        v.extend(args.iter().map(|a| a.to_string()));
        v.extend(self.home_args());
        v
    }
}

/// One file an install writes.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Entry {
    /// What it is for, in a few words.
    pub what: &'static str,
    pub path: PathBuf,
    pub contents: String,
}

/// The Linux files. The unit is always written (it is inert until
/// enabled); without a systemd user session the daemon also gets an
/// autostart entry running `apero up`, which does nothing when the daemon is
/// already running, so a later systemd session cannot start it twice.
pub fn linux_entries(l: &Layout, systemd_session: bool) -> Vec<Entry> {
    let mut v = vec![
        Entry { what: "systemd user unit for the daemon", path: l.unit_path(), contents: systemd_unit(l) },
        Entry {
            what: "autostart entry for the tray",
            path: l.autostart_dir().join("apero-tray.desktop"),
            contents: desktop_entry("apero tray", "apero's status icon: calls, mute, invites", &l.command(&l.tray, &[])),
        },
    ];
    if !systemd_session {
        v.push(Entry {
            what: "autostart entry for the daemon (no systemd user session)",
            path: l.autostart_dir().join("aperod.desktop"),
            contents: desktop_entry("apero daemon", "Starts apero's background daemon", &l.command(&l.apero, &["up"])),
        });
    }
    v
}

/// The macOS launch agents: the daemon in the foreground (launchd
/// supervises it), restarted unless it exits cleanly, and the tray.
pub fn macos_entries(l: &Layout) -> Vec<Entry> {
    let dir = l.home.join("Library").join("LaunchAgents");
    vec![
        Entry {
            what: "launchd agent for the daemon",
            path: dir.join(format!("{LAUNCHD_DAEMON}.plist")),
            contents: launchd_plist(LAUNCHD_DAEMON, &l.command(&l.aperod, &["--foreground"]), true),
        },
        Entry {
            what: "launchd agent for the tray",
            path: dir.join(format!("{LAUNCHD_TRAY}.plist")),
            contents: launchd_plist(LAUNCHD_TRAY, &l.command(&l.tray, &[]), false),
        },
    ]
}

/// `aperod --foreground`: systemd is the supervisor, so the daemon must
/// not detach, and its log goes to the journal through stderr. No ordering
/// on network-online.target: a user manager cannot see it, and the daemon
/// copes with the network coming and going anyway.
pub fn systemd_unit(l: &Layout) -> String {
    let exec = l.command(&l.aperod, &["--foreground"]).iter().map(|a| systemd_quote(a)).collect::<Vec<_>>().join(" ");
    format!(
        "# {MARKER}\n\
         [Unit]\n\
         Description=apero daemon: group calls, chat and files between friends\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart={exec}\n\
         Restart=on-failure\n\
         RestartSec=5\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n"
    )
}

pub fn desktop_entry(name: &str, comment: &str, command: &[String]) -> String {
    let exec = command.iter().map(|a| desktop_quote(a)).collect::<Vec<_>>().join(" ");
    format!(
        "# {MARKER}\n\
         [Desktop Entry]\n\
         Type=Application\n\
         Name={name}\n\
         Comment={comment}\n\
         Exec={exec}\n\
         Icon=call-start\n\
         Terminal=false\n\
         NoDisplay=true\n\
         X-GNOME-Autostart-enabled=true\n"
    )
}

pub fn launchd_plist(label: &str, command: &[String], keep_alive: bool) -> String {
    let args: String = command.iter().map(|a| format!("        <string>{}</string>\n", xml_escape(a))).collect();
    let keep = if keep_alive {
        "    <key>KeepAlive</key>\n    <dict>\n        <key>SuccessfulExit</key>\n        <false/>\n    </dict>\n"
    } else {
        ""
    };
    format!(
        concat!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
            "<!-- {marker} -->\n",
            "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n",
            "<plist version=\"1.0\">\n<dict>\n",
            "    <key>Label</key>\n    <string>{label}</string>\n",
            "    <key>ProgramArguments</key>\n    <array>\n{args}    </array>\n",
            "    <key>RunAtLoad</key>\n    <true/>\n{keep}</dict>\n</plist>\n",
        ),
        marker = MARKER,
        label = xml_escape(label),
        args = args,
        keep = keep,
    )
}

/// systemd splits ExecStart on spaces and expands `%` and `$`.
fn systemd_quote(a: &str) -> String {
    let escaped = a.replace('%', "%%").replace('$', "$$");
    if escaped.chars().any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | ';')) {
        format!("\"{}\"", escaped.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        escaped
    }
}

/// The desktop entry spec reserves `%` for field codes and quotes
/// arguments with double quotes, escaping `"`, `` ` ``, `$` and `\`.
fn desktop_quote(a: &str) -> String {
    let escaped = a.replace('%', "%%");
    if escaped.chars().any(|c| {
        c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | '$' | '`' | '<' | '>' | '|' | '&' | ';' | '*' | '?' | '#' | '(' | ')')
    }) {
        let inner: String = escaped
            .chars()
            .flat_map(|c| match c {
                '"' | '`' | '$' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        format!("\"{inner}\"")
    } else {
        escaped
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(apero_home: Option<&str>) -> Layout {
        Layout {
            config: "/home/ana/.config".into(),
            home: "/home/ana".into(),
            aperod: "/home/ana/.local/bin/aperod".into(),
            apero: "/home/ana/.local/bin/apero".into(),
            tray: "/opt/my apps/apero-tray".into(),
            apero_home: apero_home.map(PathBuf::from),
        }
    }

    #[test]
    fn unit_runs_the_daemon_in_the_foreground_and_restarts_it() {
        let u = systemd_unit(&layout(None));
        assert!(u.contains("\nExecStart=/home/ana/.local/bin/aperod --foreground\n"), "{u}");
        assert!(u.contains("\nRestart=on-failure\n"));
        assert!(u.contains("\nWantedBy=default.target\n"));
        assert!(u.starts_with("# Written by"));
    }

    #[test]
    fn home_is_passed_on_and_quoted() {
        let l = layout(Some("/tmp/x y%"));
        assert!(systemd_unit(&l).contains("ExecStart=/home/ana/.local/bin/aperod --foreground --home \"/tmp/x y%%\"\n"));
        let tray = &linux_entries(&l, true)[1];
        assert!(tray.contents.contains("\nExec=\"/opt/my apps/apero-tray\" --home \"/tmp/x y%%\"\n"), "{}", tray.contents);
    }

    #[test]
    fn daemon_autostart_only_without_systemd() {
        let l = layout(None);
        let with = linux_entries(&l, true);
        assert_eq!(
            with.iter().map(|e| e.path.clone()).collect::<Vec<_>>(),
            vec![
                PathBuf::from("/home/ana/.config/systemd/user/aperod.service"),
                PathBuf::from("/home/ana/.config/autostart/apero-tray.desktop"),
            ]
        );
        let without = linux_entries(&l, false);
        assert_eq!(without.len(), 3);
        assert!(without[2].contents.contains("\nExec=/home/ana/.local/bin/apero up\n"));
    }

    #[test]
    fn quoting_follows_each_format() {
        assert_eq!(systemd_quote("a\"b c"), "\"a\\\"b c\"");
        assert_eq!(systemd_quote("$HOME"), "$$HOME");
        assert_eq!(desktop_quote("a$b"), "\"a\\$b\"");
        assert_eq!(desktop_quote("plain/path"), "plain/path");
    }

    #[test]
    fn plist_lists_arguments_and_keeps_the_daemon_alive() {
        let e = macos_entries(&layout(Some("/a&b")));
        assert_eq!(e[0].path, PathBuf::from("/home/ana/Library/LaunchAgents/org.apero.aperod.plist"));
        assert!(e[0]
            .contents
            .contains("<string>--foreground</string>\n        <string>--home</string>\n        <string>/a&amp;b</string>"));
        assert!(e[0].contents.contains("<key>KeepAlive</key>"));
        assert!(!e[1].contents.contains("KeepAlive"));
    }
}
