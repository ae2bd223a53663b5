//! The record codec on one 200-byte record: encoding a body and framing
//! it, checking a frame (length and CRC), and reading a frame in full.
//!
//! Run: `cargo bench --bench codec -- --noplot`

use std::hint::black_box;
use std::time::Duration;

use baldur_journal::codec::{self, BODY_LEN_MAX, Frame};
use baldur_journal::{JournalEntry, Timestamp};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use baldur_bench_support as common;
use common::{RECORD_BYTES, record_of_200_bytes};

fn frame_of(entry: &JournalEntry) -> Vec<u8> {
    let mut body = Vec::new();
    codec::encode_body(entry, &mut body).expect("encodable entry");
    codec::patch_body(&mut body, 42, Timestamp::from_unix_nanos(7), 64);
    let mut frame = Vec::new();
    codec::push_frame(&mut frame, &body);
    frame
}

fn encode_check_and_read_one_record(c: &mut Criterion) {
    let entry = record_of_200_bytes();
    let frame = frame_of(&entry);
    assert_eq!(frame.len(), RECORD_BYTES);

    let mut group = c.benchmark_group("codec on one 200-byte record");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(1));

    let mut body = Vec::with_capacity(256);
    let mut out = Vec::with_capacity(256);
    group.bench_function("encode_body + push_frame", |b| {
        b.iter(|| {
            body.clear();
            out.clear();
            codec::encode_body(black_box(&entry), &mut body).expect("encode");
            codec::push_frame(&mut out, &body);
            black_box(out.len())
        })
    });

    group.bench_function("check_frame (length and CRC)", |b| {
        b.iter(|| codec::check_frame(black_box(&frame), BODY_LEN_MAX).expect("check"))
    });

    group.bench_function("read_frame (check and full decode)", |b| {
        b.iter(|| {
            let (frame, len) = codec::read_frame(black_box(&frame), BODY_LEN_MAX).expect("read");
            let Frame::Record(record) = frame else {
                panic!("expected a record")
            };
            black_box((record, len))
        })
    });
    group.finish();
}

criterion_group!(benches, encode_check_and_read_one_record);
criterion_main!(benches);
