//! Ed25519 signatures of guest components.
//!
//! - The publisher keeps a signing key (`pcosync plugin keygen`), signs each component it ships
//!   (`pcosync plugin sign FILE --key KEYFILE` writes `FILE.sig`) and publishes its public key.
//! - A host whose configuration lists that key in `[plugins] trusted_keys` (and, to refuse
//!   anything else, sets `require_signature = true`) installs only components whose `.sig`
//!   verifies against one of its trusted keys.
//!
//! What is signed is a domain-separated digest: `"pcosync-component-v1\n" || sha256(file)`, so
//! a signature of a component can never be mistaken for a signature of anything else.
//!
//! Formats (text, one item a line):
//! - public key: 32 bytes in base64 (`pcosync plugin keygen` prints it) or 64 hex digits;
//! - signature file: `pcosync-signature-v1`, `key <base64 public key>`,
//!   `signature <base64 64-byte signature>`;
//! - signing key file (mode 600): `pcosync-signing-key-v1 <base64 32-byte seed>`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

const MESSAGE_PREFIX: &[u8] = b"pcosync-component-v1\n";
const SIGNATURE_HEADER: &str = "pcosync-signature-v1";
const KEY_HEADER: &str = "pcosync-signing-key-v1";

/// A publisher's public key.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Reads a key written in base64 (44 characters) or hex (64 digits).
    pub fn parse(text: &str) -> Result<PublicKey, String> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|e| e.to_string())?
        } else {
            BASE64
                .decode(text)
                .map_err(|_| format!("`{text}` is neither base64 nor hex"))?
        };
        let bytes: [u8; 32] = bytes.try_into().map_err(|bytes: Vec<u8>| {
            format!(
                "`{text}` is {} bytes long; an ed25519 public key has 32",
                bytes.len()
            )
        })?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|_| format!("`{text}` is not a valid ed25519 public key"))
    }

    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0.as_bytes())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl<'de> serde::Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        PublicKey::parse(&text)
            .map_err(|e| serde::de::Error::custom(format!("plugins.trusted_keys: {e}")))
    }
}

/// Why a component's signature was not accepted. Messages name the file and the fix; `file`
/// is the component as the administrator named it.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error(
        "{file} is not signed ({file}.sig was not found), and this host installs signed components only \
         (plugins.require_signature): ask its publisher for {file}.sig, or sign it yourself with \
         `pcosync plugin sign {file} --key KEYFILE` using a key listed in plugins.trusted_keys"
    )]
    Unsigned { file: String },
    #[error(
        "{file}.sig is not a pcosync signature ({reason}); signatures are written by \
         `pcosync plugin sign {file} --key KEYFILE`"
    )]
    Malformed { file: String, reason: String },
    #[error(
        "{file} is signed by the key {key}, which is not in plugins.trusted_keys: add the \
         publisher's public key to plugins.trusted_keys if you trust it, or get the component \
         from a publisher you trust"
    )]
    UntrustedKey { file: String, key: String },
    #[error(
        "{file}.sig does not match {file}: the component was changed after it was signed, or the \
         signature belongs to another file. Do not install it: get both files again from the \
         publisher"
    )]
    Mismatch { file: String },
    #[error(
        "plugins.require_signature is on but plugins.trusted_keys is empty: list the \
         publisher's public key (base64 or hex) in trusted_keys"
    )]
    NoTrustedKeys,
}

/// The bytes a signature covers.
fn message(wasm: &[u8]) -> Vec<u8> {
    let mut message = MESSAGE_PREFIX.to_vec();
    message.extend_from_slice(&Sha256::digest(wasm));
    message
}

/// A new signing key, as the text of its key file, and its public key.
pub fn generate() -> (String, PublicKey) {
    let seed: [u8; 32] = rand::random();
    let key = SigningKey::from_bytes(&seed);
    let text = format!(
        "# pcosync component signing key (ed25519). Keep it secret: whoever holds it can sign\n\
         # components that hosts trusting its public key will run.\n\
         {KEY_HEADER} {}\n",
        BASE64.encode(seed)
    );
    (text, PublicKey(key.verifying_key()))
}

/// The public key of a signing key.
pub fn public_key(key: &SigningKey) -> PublicKey {
    PublicKey(key.verifying_key())
}

/// A signing key from the text of its key file.
pub fn signing_key(text: &str) -> Result<SigningKey, String> {
    let line = text
        .lines()
        .map(str::trim)
        .find_map(|line| line.strip_prefix(KEY_HEADER))
        .ok_or_else(|| {
            format!("it has no `{KEY_HEADER}` line (make one with `pcosync plugin keygen`)")
        })?;
    let seed: [u8; 32] = BASE64
        .decode(line.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or("its key is not 32 bytes of base64")?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The text of `wasm`'s signature file.
pub fn sign(wasm: &[u8], key: &SigningKey) -> String {
    let signature = key.sign(&message(wasm));
    format!(
        "{SIGNATURE_HEADER}\nkey {}\nsignature {}\n",
        BASE64.encode(key.verifying_key().as_bytes()),
        BASE64.encode(signature.to_bytes())
    )
}

/// Checks that `signature` (the text of `file`.sig) signs `wasm` with one of `trusted`, and
/// answers that key.
pub fn verify(
    file: &str,
    wasm: &[u8],
    signature: &str,
    trusted: &[PublicKey],
) -> Result<PublicKey, SignatureError> {
    let malformed = |reason: &str| SignatureError::Malformed {
        file: file.to_string(),
        reason: reason.to_string(),
    };
    let mut lines = signature.lines().map(str::trim).filter(|l| !l.is_empty());
    if lines.next() != Some(SIGNATURE_HEADER) {
        return Err(malformed(&format!(
            "its first line is not `{SIGNATURE_HEADER}`"
        )));
    }
    let mut key = None;
    let mut bytes = None;
    for line in lines {
        match line.split_once(' ') {
            Some(("key", value)) => key = Some(PublicKey::parse(value).map_err(|e| malformed(&e))?),
            Some(("signature", value)) => {
                let decoded: [u8; 64] = BASE64
                    .decode(value.trim())
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| malformed("its signature is not 64 bytes of base64"))?;
                bytes = Some(ed25519_dalek::Signature::from_bytes(&decoded));
            }
            _ => return Err(malformed(&format!("unexpected line `{line}`"))),
        }
    }
    let key = key.ok_or_else(|| malformed("it has no `key` line"))?;
    let bytes = bytes.ok_or_else(|| malformed("it has no `signature` line"))?;
    if !trusted.contains(&key) {
        return Err(SignatureError::UntrustedKey {
            file: file.to_string(),
            key: key.to_base64(),
        });
    }
    key.0
        .verify_strict(&message(wasm), &bytes)
        .map_err(|_| SignatureError::Mismatch {
            file: file.to_string(),
        })?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_with_its_key_only_and_for_its_file_only() {
        let (key_file, public) = generate();
        let key = signing_key(&key_file).unwrap();
        let wasm = b"\0asm component bytes".to_vec();
        let signature = sign(&wasm, &key);
        assert_eq!(
            verify(
                "guest.wasm",
                &wasm,
                &signature,
                std::slice::from_ref(&public)
            )
            .unwrap(),
            public
        );

        let mut changed = wasm.clone();
        changed[3] ^= 1;
        let error = verify(
            "guest.wasm",
            &changed,
            &signature,
            std::slice::from_ref(&public),
        )
        .unwrap_err();
        assert!(matches!(error, SignatureError::Mismatch { .. }), "{error}");
        assert!(
            error
                .to_string()
                .contains("guest.wasm.sig does not match guest.wasm")
        );

        let (_, stranger) = generate();
        let error = verify("guest.wasm", &wasm, &signature, &[stranger]).unwrap_err();
        assert!(
            matches!(error, SignatureError::UntrustedKey { .. }),
            "{error}"
        );
        assert!(error.to_string().contains(&public.to_base64()), "{error}");

        // A signature claiming a trusted key but made by another key does not verify.
        let (other_file, other) = generate();
        let forged = sign(&wasm, &signing_key(&other_file).unwrap())
            .replace(&other.to_base64(), &public.to_base64());
        let error =
            verify("guest.wasm", &wasm, &forged, std::slice::from_ref(&public)).unwrap_err();
        assert!(matches!(error, SignatureError::Mismatch { .. }), "{error}");
    }

    #[test]
    fn keys_read_as_base64_or_hex_and_bad_ones_say_why() {
        let (_, public) = generate();
        let hex = hex::encode(public.0.as_bytes());
        assert_eq!(PublicKey::parse(&hex).unwrap(), public);
        assert_eq!(PublicKey::parse(&public.to_base64()).unwrap(), public);
        assert!(PublicKey::parse("abc").unwrap_err().contains("base64"));
        assert!(
            PublicKey::parse(&BASE64.encode([1u8; 16]))
                .unwrap_err()
                .contains("16 bytes")
        );
        assert!(signing_key("nonsense").unwrap_err().contains("keygen"));
    }

    #[test]
    fn malformed_signature_files_are_named() {
        let (_, public) = generate();
        let error = verify("g.wasm", b"x", "hello", &[public]).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("g.wasm.sig is not a pcosync signature")
        );
    }
}
