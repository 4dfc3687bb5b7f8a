//! The page's files (`src/view/assets/`), embedded in the binary so that the
//! view needs nothing beside it, each served at its own name with its
//! content type (module scripts must be `text/javascript`, or the browser
//! refuses them).

/// One embedded file.
#[derive(Debug)]
pub(crate) struct Asset {
    /// Its name under `assets/`, which is its URL path without the `/`.
    pub name: &'static str,
    pub body: &'static [u8],
    pub content_type: &'static str,
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JSON: &str = "application/json";
const SVG: &str = "image/svg+xml";

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            body: include_bytes!(concat!("assets/", $name)),
            content_type: $type,
        }
    };
}

/// Every file of the page.
pub(crate) const ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("style.css", CSS),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("store.js", JS),
    asset!("map.js", JS),
    asset!("globe.js", JS),
    asset!("geo.js", JS),
    asset!("time.js", JS),
    asset!("charts.js", JS),
    asset!("panels.js", JS),
    asset!("log.js", JS),
    asset!("legend.js", JS),
    asset!("dom.js", JS),
    asset!("land.json", JSON),
    asset!("favicon.svg", SVG),
];

/// The file served at URL `path` (`/` is the page).
pub(crate) fn find(path: &str) -> Option<&'static Asset> {
    let name = match path.strip_prefix('/')? {
        "" => "index.html",
        name => name,
    };
    ASSETS.iter().find(|a| a.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_page_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/view/assets");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .expect("assets")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|a| a.name.to_owned()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
        assert_eq!(find("/").map(|a| a.name), Some("index.html"));
        assert_eq!(find("/app.js").map(|a| a.content_type), Some(JS));
        assert!(find("/../Cargo.toml").is_none());
        assert!(find("/api/scenario").is_none());
    }
}
