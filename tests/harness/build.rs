//! Builds the misbehaving test component.

fn main() {
    let component = wasm_build::build_component("misbehaving-guest", &["tests/misbehave", "wit"]);
    println!("cargo:rustc-env=MISBEHAVING_GUEST={}", component.display());
}
