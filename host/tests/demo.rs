//! `pcosync demo`, the README's first command, as a new user runs it: the real binary against
//! the local sandboxes, ending with the commands that point it at a real Rock and PCO.

use std::process::Command;

#[test]
fn the_demo_syncs_both_ways_then_says_how_to_point_it_at_real_systems() {
    let data = std::env::temp_dir().join(format!("pcosync-demo-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let output = Command::new(env!("CARGO_BIN_EXE_pcosync"))
        .args(["demo", "--people", "40", "--seed", "5"])
        .arg("--data-dir")
        .arg(&data)
        .env_remove("PCOSYNC_CONFIG")
        .env("XDG_CONFIG_HOME", &data)
        .output()
        .expect("runs pcosync demo");
    let _ = std::fs::remove_dir_all(&data);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // R27: the last run writes nothing to either side.
    assert!(
        stdout.contains("Write requests in the third sync: 0 to PCO, 0 to Rock."),
        "{stdout}"
    );
    // The three commands, in the order a user runs them, after everything else.
    let tail = stdout
        .rsplit_once("To sync your own Rock and Planning Center")
        .map(|(_, tail)| tail)
        .unwrap_or_else(|| panic!("no next steps at the end:\n{stdout}"));
    let order = [
        "pcosync config set rock.url=",
        "pcosync account add",
        "pcosync config check",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|command| {
            tail.find(command)
                .unwrap_or_else(|| panic!("{command} missing:\n{tail}"))
        })
        .collect();
    assert!(positions.is_sorted(), "{tail}");
    assert!(
        !tail.contains("== "),
        "a run is reported after the next steps:\n{tail}"
    );
}
