//! Builds the guest component, which the host embeds as its default.

fn main() {
    let component =
        wasm_build::build_component("pcosync-guest", &["guest/src", "guest/Cargo.toml", "wit"]);
    println!(
        "cargo:rustc-env=PCOSYNC_DEFAULT_GUEST={}",
        component.display()
    );
}
