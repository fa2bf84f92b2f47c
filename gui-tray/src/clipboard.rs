//! The system clipboard through `arboard`, opened on first use and kept
//! open: on X11 the copied text lives only as long as its owner does.

#[derive(Default)]
pub struct Clipboard {
    inner: Option<arboard::Clipboard>,
}

impl Clipboard {
    pub fn copy(&mut self, text: &str) -> Result<(), arboard::Error> {
        let clipboard = match &mut self.inner {
            Some(c) => c,
            None => self.inner.insert(arboard::Clipboard::new()?),
        };
        clipboard.set_text(text)
    }
}
