//! Anti-replay nonces (RFC 8555 section 6.5), bounded in memory and time. A nonce is a counter,
//! the second it was issued and an HMAC of both under a key drawn at start (after Boulder's
//! encrypted counter): nothing is stored per nonce issued, only a bit per nonce of the last
//! [`WINDOW`] recording whether it was used. A nonce is accepted once, if the MAC holds, it is
//! among the last `WINDOW` issued and younger than [`LIFETIME`]. A restart draws a new key, so
//! older nonces get `badNonce`, which clients answer by retrying with a fresh one.

use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::hmac;

/// How many of the most recent nonces can be redeemed (8 KiB of bits).
pub const WINDOW: u64 = 65_536;
/// How long a nonce can be redeemed, in seconds.
pub const LIFETIME: u64 = 3600;

/// The nonce source.
pub struct Nonces {
    key: hmac::Key,
    state: Mutex<State>,
}

struct State {
    next: u64,
    used: Vec<u64>,
}

impl Nonces {
    /// A source with a fresh random key.
    pub fn new() -> anyhow::Result<Nonces> {
        let rng = ring::rand::SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng).map_err(|_| anyhow::anyhow!("no randomness"))?;
        Ok(Nonces { key, state: Mutex::new(State { next: 0, used: vec![0; (WINDOW / 64) as usize] }) })
    }

    /// A new nonce, issued at Unix time `now`.
    pub fn issue(&self, now: u64) -> String {
        let n = {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let n = s.next;
            s.next += 1;
            // The slot is reused: whoever held it fell out of the window.
            s.used[((n % WINDOW) / 64) as usize] &= !(1 << (n % 64));
            n
        };
        let mut raw = [0u8; 28];
        raw[..8].copy_from_slice(&n.to_be_bytes());
        raw[8..12].copy_from_slice(&(now as u32).to_be_bytes());
        let tag = hmac::sign(&self.key, &raw[..12]);
        raw[12..].copy_from_slice(&tag.as_ref()[..16]);
        B64.encode(raw)
    }

    /// Redeems a nonce at Unix time `now`: true once for a good one, false ever after.
    pub fn redeem(&self, nonce: &str, now: u64) -> bool {
        let Ok(raw) = B64.decode(nonce) else { return false };
        if raw.len() != 28 {
            return false;
        }
        // The tag is truncated to 16 bytes: compared in constant time by hand (ring's verify
        // takes whole tags only).
        let tag = hmac::sign(&self.key, &raw[..12]);
        if tag.as_ref()[..16].iter().zip(&raw[12..]).fold(0u8, |d, (a, b)| d | (a ^ b)) != 0 {
            return false;
        }
        let n = u64::from_be_bytes(raw[..8].try_into().expect("8 bytes"));
        let at = u32::from_be_bytes(raw[8..12].try_into().expect("4 bytes")) as u64;
        if now.saturating_sub(at) > LIFETIME || at > now + 60 {
            return false;
        }
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if n >= s.next || s.next - n > WINDOW {
            return false;
        }
        let (word, bit) = (((n % WINDOW) / 64) as usize, 1u64 << (n % 64));
        if s.used[word] & bit != 0 {
            return false;
        }
        s.used[word] |= bit;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_good_once_within_its_window_and_lifetime() {
        let n = Nonces::new().unwrap();
        let a = n.issue(1000);
        assert!(n.redeem(&a, 1001));
        assert!(!n.redeem(&a, 1001), "replayed");
        let b = n.issue(1000);
        assert!(!n.redeem(&b, 1000 + LIFETIME + 1), "too old");
        let c = n.issue(1000);
        let mut forged = B64.decode(&c).unwrap();
        forged[0] ^= 1;
        assert!(!n.redeem(&B64.encode(forged), 1000), "forged");
        for _ in 0..WINDOW {
            n.issue(1000);
        }
        assert!(!n.redeem(&c, 1000), "out of the window");
        assert!(!Nonces::new().unwrap().redeem(&n.issue(1000), 1000), "another key (a restart)");
        assert!(!n.redeem("not-a-nonce", 1000));
    }
}
