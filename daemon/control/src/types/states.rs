//! Small states that travel as lowercase strings.

use serde::{Deserialize, Serialize};

/// Declares a state enum that travels as the lowercase string it always
/// did, so JSON consumers written against the string form keep working.
macro_rules! wire_state {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            $($(#[$vmeta])* #[doc = concat!("`\"", $text, "\"`")] $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }
    };
}

wire_state! {
    /// Whether AutoNAT found us reachable from the internet.
    Nat { #[default] Unknown => "unknown", Public => "public", Private => "private" }
}

wire_state! {
    /// Whom a daemon relays for.
    Relaying {
        /// Not reachable (or not known to be): nobody could use us.
        #[default] Off => "off",
        /// AutoNAT found us public: members of our rooms may reserve and open circuits.
        Members => "members",
        /// `aperod --relay`: anyone, within the rate limits.
        Anyone => "anyone",
    }
}

wire_state! {
    /// How a connected peer is reached.
    PeerPath { #[default] Direct => "direct", Relayed => "relayed" }
}

wire_state! {
    /// The transport of a peer's best connection.
    Transport { #[default] Quic => "quic", Tcp => "tcp" }
}

wire_state! {
    /// How a call participant's voice reaches us.
    CallPath {
        /// Ourselves.
        Local => "local",
        Direct => "direct",
        Relayed => "relayed",
        /// In the call but not connected right now.
        #[default] Unknown => "unknown",
    }
}

wire_state! {
    /// What carries a participant's voice to us.
    VoicePath {
        /// QUIC datagrams: a lost packet costs only its own frame.
        Datagram => "datagram",
        /// A reliable stream (relayed and TCP connections carry no datagrams).
        #[default] Stream => "stream",
    }
}

wire_state! {
    /// Where a download stands.
    TransferState {
        #[default] Running => "running",
        /// Stopped short but resumable (`apero get` again).
        Paused => "paused",
        Done => "done",
        Failed => "failed",
        Cancelled => "cancelled",
    }
}
