//! A terminal progress bar (bytes read, resources loaded, rate and ETA) for long imports.

use indicatif::{ProgressBar, ProgressStyle};
use std::time::Instant;

pub struct Bar {
    bar: ProgressBar,
    started: Instant,
}

impl Bar {
    pub fn new(prefix: &'static str) -> Bar {
        let bar = ProgressBar::new(0);
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix} [{bar:30}] {bytes}/{total_bytes}  {msg}  ETA {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(prefix);
        Bar {
            bar,
            started: Instant::now(),
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl crosscare_ingest::Progress for Bar {
    fn start(&self, total_bytes: u64) {
        self.bar.set_length(total_bytes);
    }

    fn update(&self, bytes_read: u64, loaded: u64) {
        self.bar.set_position(bytes_read);
        let rate = loaded as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        self.bar
            .set_message(format!("{loaded} resources ({rate:.0}/s)"));
    }
}
