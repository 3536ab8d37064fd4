//! `ApiKey::parse` on any string: never panics, and a key it accepts keeps its
//! parts (`<prefix>_<env>_<kind>_<kid>_<secret>`) and reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_fuzz::key_format::ApiKey;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for prefix in ["tg", "acme"] {
        if let Ok(key) = ApiKey::parse(prefix, s) {
            assert_eq!(key.expose(), s);
            let parts: Vec<&str> = s.splitn(5, '_').collect();
            assert_eq!(parts[0], prefix);
            assert_eq!(parts[1], key.env.as_str());
            assert_eq!(parts[2], key.kind.as_str());
            assert_eq!(parts[3], key.kid.as_str());
            let again = ApiKey::parse(prefix, key.expose()).expect("a parsed key parses again");
            assert_eq!(again.kid.as_str(), key.kid.as_str());
        }
    }
});
