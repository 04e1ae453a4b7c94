//! Declarations shared by the message modules.

/// A registry codepoint: a newtype over an integer that keeps unknown values (the draft's
/// registries grow, see §10 "Extending this Document"), with a constant per value the draft
/// registers.
macro_rules! codepoint {
    (
        $(#[$m:meta])*
        $name:ident($int:ty, $read:ident) {
            $( $(#[$cm:meta])* $c:ident = $v:literal => $s:literal, )+
        }
    ) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub $int);

        impl $name {
            $( $(#[$cm])* pub const $c: $name = $name($v); )+

            /// The name the draft registers for this code, if it registers one.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $v => Some($s), )+
                    _ => None,
                }
            }
        }

        impl From<$int> for $name {
            fn from(v: $int) -> Self {
                $name(v)
            }
        }

        impl From<$name> for $int {
            fn from(v: $name) -> Self {
                v.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{}::{}({})", stringify!($name), n, self.0),
                    None => write!(f, "{}({})", stringify!($name), self.0),
                }
            }
        }

        impl $crate::codec::Encode for $name {
            fn encode(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.0.to_be_bytes());
            }
            fn encoded_len(&self) -> usize {
                std::mem::size_of::<$int>()
            }
        }

        impl $crate::codec::Decode for $name {
            const NAME: &'static str = stringify!($name);
            fn decode_from(
                r: &mut $crate::codec::Reader<'_>,
            ) -> Result<Self, $crate::codec::DecodeError> {
                Ok($name(r.$read(Self::NAME)?))
            }
        }
    };
}

/// A plain integer newtype (`uint64 Time;`).
macro_rules! int_newtype {
    ($(#[$m:meta])* $name:ident($int:ty, $read:ident)) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub $int);

        impl From<$int> for $name {
            fn from(v: $int) -> Self {
                $name(v)
            }
        }

        impl From<$name> for $int {
            fn from(v: $name) -> Self {
                v.0
            }
        }

        impl $crate::codec::Encode for $name {
            fn encode(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.0.to_be_bytes());
            }
            fn encoded_len(&self) -> usize {
                std::mem::size_of::<$int>()
            }
        }

        impl $crate::codec::Decode for $name {
            const NAME: &'static str = stringify!($name);
            fn decode_from(
                r: &mut $crate::codec::Reader<'_>,
            ) -> Result<Self, $crate::codec::DecodeError> {
                Ok($name(r.$read(Self::NAME)?))
            }
        }
    };
}

/// A fixed-length opaque identifier (`opaque TaskID[32];`), shown and parsed as URL-safe
/// unpadded base 64 (the form §3 uses in resource URLs).
macro_rules! fixed_id {
    ($(#[$m:meta])* $name:ident, $len:literal, $draft:literal) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[doc(alias = $draft)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Length in bytes.
            pub const LEN: usize = $len;

            /// The bytes.
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// URL-safe base 64 without padding (RFC 4648, Sections 5 and 3.2).
            pub fn to_base64url(&self) -> String {
                $crate::http::base64url_encode(&self.0)
            }

            /// Parses URL-safe unpadded base 64 of exactly this many bytes.
            pub fn from_base64url(s: &str) -> Result<Self, $crate::http::PathError> {
                let v = $crate::http::base64url_decode(s)?;
                <[u8; $len]>::try_from(v.as_slice())
                    .map($name)
                    .map_err(|_| $crate::http::PathError::IdLength {
                        expected: $len,
                        got: v.len(),
                    })
            }
        }

        impl From<[u8; $len]> for $name {
            fn from(v: [u8; $len]) -> Self {
                $name(v)
            }
        }

        impl AsRef<[u8]> for $name {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.to_base64url())
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_base64url())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::http::PathError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::from_base64url(s)
            }
        }

        impl $crate::codec::Encode for $name {
            fn encode(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.0);
            }
            fn encoded_len(&self) -> usize {
                $len
            }
        }

        impl $crate::codec::Decode for $name {
            const NAME: &'static str = $draft;
            fn decode_from(
                r: &mut $crate::codec::Reader<'_>,
            ) -> Result<Self, $crate::codec::DecodeError> {
                Ok($name(r.array(Self::NAME)?))
            }
        }
    };
}

/// An extension structure `{ Type extension_type; opaque extension_data<0..2^16-1>; }` and
/// its type codepoint (§4.2.2, §4.4.3, §4.5.1, §4.6.2 all share this shape).
macro_rules! extension {
    (
        $(#[$m:meta])*
        $name:ident, $draft:literal, $ty:ident
    ) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub struct $name {
            /// `extension_type`.
            pub extension_type: $ty,
            /// `extension_data`, structured as the extension defines.
            pub extension_data: $crate::codec::Opaque16,
        }

        impl $name {
            /// An extension of `extension_type` carrying `extension_data`.
            pub fn new(extension_type: $ty, extension_data: $crate::codec::Opaque16) -> Self {
                $name {
                    extension_type,
                    extension_data,
                }
            }
        }

        impl $crate::extensions::TypedExtension for $name {
            fn type_code(&self) -> u16 {
                self.extension_type.0
            }
        }

        impl $crate::codec::Encode for $name {
            fn encode(&self, out: &mut Vec<u8>) {
                $crate::codec::Encode::encode(&self.extension_type, out);
                $crate::codec::Encode::encode(&self.extension_data, out);
            }
            fn encoded_len(&self) -> usize {
                2 + $crate::codec::Encode::encoded_len(&self.extension_data)
            }
        }

        impl $crate::codec::Decode for $name {
            const NAME: &'static str = $draft;
            fn decode_from(
                r: &mut $crate::codec::Reader<'_>,
            ) -> Result<Self, $crate::codec::DecodeError> {
                use $crate::codec::Within as _;
                Ok($name {
                    extension_type: <$ty as $crate::codec::Decode>::decode_from(r)
                        .within(concat!($draft, ".extension_type"))?,
                    extension_data: $crate::codec::Opaque16::read(
                        r,
                        concat!($draft, ".extension_data"),
                    )?,
                })
            }
        }
    };
}
