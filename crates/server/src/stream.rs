//! Streamed response bodies: a [`crosscare_rest::RawBody`] producer runs on the blocking pool
//! and writes into a bounded channel that the HTTP body reads, so an export file or a view's
//! output is never held whole in memory and a slow client slows the producer down.

use axum::body::{Body, Bytes};
use http_body::Frame;
use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// Bytes gathered before a chunk is handed to the connection.
const CHUNK: usize = 64 * 1024;
/// Chunks in flight between the producer and the connection.
const CHANNEL_CHUNKS: usize = 8;

type Chunk = Result<Bytes, std::io::Error>;

struct ChannelWriter {
    sender: mpsc::Sender<Chunk>,
    buffer: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK),
        ));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl Drop for ChannelWriter {
    fn drop(&mut self) {
        // Whatever the producer wrote and did not flush still goes out, before any error.
        let _ = self.send();
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= CHUNK {
            self.send()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// The HTTP body: the chunks of the channel, in order; an error ends the response broken.
struct ChannelBody {
    receiver: mpsc::Receiver<Chunk>,
}

impl axum::body::HttpBody for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.receiver
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| c.map(Frame::data)))
    }
}

/// A body fed by `producer` on the blocking pool.
pub(crate) fn body(producer: crosscare_rest::request::BodyProducer) -> Body {
    let (sender, receiver) = mpsc::channel(CHANNEL_CHUNKS);
    tokio::task::spawn_blocking(move || {
        let errors = sender.clone();
        let writer = ChannelWriter {
            sender,
            buffer: Vec::with_capacity(CHUNK),
        };
        // The producer owns the writer; dropping it sends the rest of the buffer.
        if let Err(e) = producer(Box::new(writer)) {
            tracing::warn!(error = %e, "streamed response cut short");
            // The client sees a broken body rather than a silently truncated one.
            let _ = errors.blocking_send(Err(e));
        }
    });
    Body::new(ChannelBody { receiver })
}
