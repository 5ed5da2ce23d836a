//! ACME objects (RFC 8555 section 7.1) as `pki serve` keeps them: in memory for answering, and
//! each change written through to the CA directory (`pki_core::store::AcmeKind`) before it is
//! answered, so a restart loses nothing a client was told.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::jws::Jwk;

/// An identifier (RFC 8555 section 9.7.7: `dns`; RFC 8738: `ip`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Identifier {
    /// `dns` or `ip`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The name or address, normalised.
    pub value: String,
}

/// An account (section 7.1.2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    /// Its id (the last part of its URL).
    pub id: String,
    /// The ACME directory (profile) it belongs to.
    pub profile: String,
    /// Its public key.
    pub key: Jwk,
    /// `valid` or `deactivated`.
    pub status: String,
    /// `mailto:` URLs.
    pub contact: Vec<String>,
    /// Whether it agreed to the terms of service.
    #[serde(default)]
    pub terms_agreed: bool,
    /// When it was created (RFC 3339).
    pub created: String,
    /// The External Account Binding key it registered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eab_kid: Option<String>,
}

/// A challenge (section 8), kept inside its authorization.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Challenge {
    /// `http-01`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The token (base64url of 32 random bytes).
    pub token: String,
    /// `pending`, `processing`, `valid` or `invalid`.
    pub status: String,
    /// When it was validated (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validated: Option<String>,
    /// Why it failed (a problem document).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

/// An authorization (section 7.1.4).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Authz {
    /// Its id.
    pub id: String,
    /// The account it belongs to.
    pub account: String,
    /// Its profile.
    pub profile: String,
    /// What it authorizes.
    pub identifier: Identifier,
    /// `pending`, `valid`, `invalid`, `deactivated` (`expired` is derived from `expires`).
    pub status: String,
    /// Unix time it expires: pending ones soon, valid ones after the reuse window.
    pub expires: i64,
    /// Its challenges.
    pub challenges: Vec<Challenge>,
}

/// An order (section 7.1.3).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Order {
    /// Its id.
    pub id: String,
    /// The account that placed it.
    pub account: String,
    /// Its profile.
    pub profile: String,
    /// `pending`, `ready`, `processing`, `valid` or `invalid` as last stored; `pending` and
    /// `ready` are derived again from the authorizations when read.
    pub status: String,
    /// Unix time it expires (an order not valid by then is invalid).
    pub expires: i64,
    /// What it asks for.
    pub identifiers: Vec<Identifier>,
    /// Its authorizations' ids, one per identifier.
    pub authzs: Vec<String>,
    /// Why it is invalid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// The serial of the certificate issued for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// The certificate and its chain (PEM, no root), as `certificate` returns them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_pem: Option<String>,
    /// Unix time it was placed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<i64>,
    /// Unix time its certificate expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_not_after: Option<i64>,
    /// The CertID of the certificate it renews (RFC 9773 `replaces`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    /// That certificate's serial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces_serial: Option<String>,
}

/// Everything, indexed.
#[derive(Debug, Default)]
pub struct State {
    /// Accounts by id.
    pub accounts: HashMap<String, Account>,
    /// `PROFILE/THUMBPRINT` -> account id.
    pub by_key: HashMap<String, String>,
    /// Orders by id.
    pub orders: HashMap<String, Order>,
    /// Authorizations by id.
    pub authzs: HashMap<String, Authz>,
    /// Certificate serial -> the order that yielded it.
    pub by_serial: HashMap<String, String>,
}

/// The index key of an account key in a profile.
pub fn key_index(profile: &str, key: &Jwk) -> String {
    format!("{profile}/{}", key.thumbprint())
}

impl State {
    /// Reads every object back from the directory (at start).
    pub fn load(dir: &pki_core::store::CaDir) -> anyhow::Result<State> {
        use pki_core::store::AcmeKind;
        let mut s = State::default();
        fn parse<T: serde::de::DeserializeOwned>(
            dir: &pki_core::store::CaDir,
            kind: &str,
            id: &str,
            b: &[u8],
        ) -> anyhow::Result<T> {
            serde_json::from_slice(b).map_err(|e| {
                anyhow::anyhow!(
                    "{}/acme: the {kind} file {id}.json is unreadable ({e}): restore it or remove it",
                    dir.root.display()
                )
            })
        }
        for (id, b) in dir.acme_load(AcmeKind::Account)? {
            let a: Account = parse(dir, "account", &id, &b)?;
            s.by_key.insert(key_index(&a.profile, &a.key), a.id.clone());
            s.accounts.insert(a.id.clone(), a);
        }
        for (id, b) in dir.acme_load(AcmeKind::Authz)? {
            let a: Authz = parse(dir, "authorization", &id, &b)?;
            s.authzs.insert(a.id.clone(), a);
        }
        for (id, b) in dir.acme_load(AcmeKind::Order)? {
            let o: Order = parse(dir, "order", &id, &b)?;
            if let Some(serial) = &o.serial {
                s.by_serial.insert(serial.clone(), o.id.clone());
            }
            s.orders.insert(o.id.clone(), o);
        }
        Ok(s)
    }
}
