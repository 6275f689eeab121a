//! Micro-benchmarks of the server's SRP work: the modular exponentiations that dominate a
//! sign-in. `cargo bench -p userpool-srp`.
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let salt = userpool_srp::new_salt();
    let v = userpool_srp::verifier(&salt, "AbCdEf123", "alice", "Passw0rd!");
    let a = userpool_srp::server_public(&userpool_srp::Int::from(0), &userpool_srp::new_private());
    c.bench_function("verifier g^x (password set, USER_PASSWORD_AUTH check)", |b| {
        b.iter(|| userpool_srp::verifier(black_box(&salt), "AbCdEf123", "alice", "Passw0rd!"))
    });
    c.bench_function("server_public B = kv + g^b (InitiateAuth USER_SRP_AUTH)", |b| {
        b.iter(|| userpool_srp::server_public(black_box(&v), &userpool_srp::new_private()))
    });
    let b_priv = userpool_srp::new_private();
    let big_b = userpool_srp::server_public(&v, &b_priv);
    c.bench_function("server_key (A v^u)^b + HKDF (PASSWORD_VERIFIER)", |b| {
        b.iter(|| userpool_srp::server_key(black_box(&a), &big_b, &b_priv, &v).unwrap())
    });
    let n = &userpool_srp::GROUP.n;
    c.bench_function("raw: variable-time pow_mod, 256-bit exponent", |bch| {
        bch.iter(|| userpool_srp::Int::from(black_box(&a).pow_mod_ref(&b_priv, n).unwrap()))
    });
    c.bench_function("raw: one 3072-bit modular multiplication", |bch| {
        bch.iter(|| {
            let mut m = userpool_srp::Int::from(black_box(&a) * &v);
            m %= n;
            m
        })
    });
    c.bench_function("full SRP sign-in, server side (B, then S and K)", |b| {
        b.iter(|| {
            let bp = userpool_srp::new_private();
            let bb = userpool_srp::server_public(&v, &bp);
            userpool_srp::server_key(black_box(&a), &bb, &bp, &v).unwrap()
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench
}
criterion_main!(benches);
