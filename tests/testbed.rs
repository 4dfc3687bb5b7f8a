//! The testbed API: protocols tested from Rust against the in-process
//! harness. These double as examples (the first is the README's).

use orbnet_node::testbed::{Error, Testbed, quinn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One hop of `topologies/ring-8.toml`: the chord between neighbours 45°
/// apart at 1000 km above the equatorial radius (WGS-84, 6378.137 km),
/// 2a·sin(22.5°)/c, in seconds.
fn hop_s() -> f64 {
    2.0 * (6378.137 + 1000.0) * (22.5f64).to_radians().sin() / 299_792.458
}

/// A user's own protocol: a UDP request and its response across the ring.
#[test]
fn a_udp_request_gets_its_response_after_the_geometric_round_trip() {
    let tb = Testbed::from_file("topologies/ring-8.toml").expect("scenario");
    let rtt = tb
        .run(|net| async move {
            let server = net.udp("sat-4", 7).await?;
            let client = net.udp("sat-0", 7).await?;
            tokio::spawn(async move {
                while let Ok((msg, from)) = server.recv_from().await {
                    let _ = server.send_to(&msg, from);
                }
            });
            net.sleep(0.2).await; // let every satellite route once
            let t0 = net.now();
            client.send_to(b"hello", net.addr("sat-4", 7)?)?;
            let (reply, from) = client.recv_from().await?;
            assert_eq!(
                (reply.as_slice(), from),
                (&b"hello"[..], net.addr("sat-4", 7)?)
            );
            Ok::<f64, Error>(net.now() - t0)
        })
        .expect("ran")
        .expect("echoed");
    // Four hops each way; serializing a 33-byte packet at 10 Gb/s adds 26 ns
    // a hop, and the clock reads whole microseconds.
    let want = 8.0 * hop_s();
    assert!(
        (rtt - want).abs() < 3e-6,
        "RTT {rtt} s, geometry says {want} s"
    );
}

/// Bytes for a transfer: position-dependent, so a misplaced byte shows.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn a_quic_transfer_survives_a_link_cut_by_rerouting() {
    let tb = Testbed::from_file("topologies/ring-8.toml").expect("scenario");
    let (got, state, forwarded) = tb
        .run(|net| async move {
            let server = net.quic("sat-2", 4500).await?;
            let client = net.quic("sat-0", 4500).await?;
            net.sleep(0.2).await;
            let receiver = tokio::spawn(async move {
                let conn = server
                    .accept()
                    .await
                    .ok_or(Error::Other("no connection".into()))?;
                let conn = conn.await.map_err(|e| Error::Other(e.to_string()))?;
                let mut s = conn
                    .accept_uni()
                    .await
                    .map_err(|e| Error::Other(e.to_string()))?;
                let data = s
                    .read_to_end(64 << 20)
                    .await
                    .map_err(|e| Error::Other(e.to_string()))?;
                conn.close(0u32.into(), b"done");
                Ok::<Vec<u8>, Error>(data)
            });
            let conn = client
                .connect(net.addr("sat-2", 4500)?, orbnet_node::quic::SERVER_NAME)
                .map_err(|e| Error::Other(e.to_string()))?
                .await
                .map_err(|e| Error::Other(e.to_string()))?;
            let mut s = conn
                .open_uni()
                .await
                .map_err(|e| Error::Other(e.to_string()))?;
            // 1 MiB every 10 ms for 0.4 s; the short way (through sat-1)
            // goes after 0.15 s and the rest goes the long way round.
            let data = pattern(40 << 20);
            let t0 = net.now();
            for (k, chunk) in data.chunks(1 << 20).enumerate() {
                net.until(t0 + 0.01 * k as f64).await;
                if k == 15 {
                    net.link_down("sat-0", "sat-1", None)?;
                }
                s.write_all(chunk)
                    .await
                    .map_err(|e| Error::Other(e.to_string()))?;
            }
            s.finish().map_err(|e| Error::Other(e.to_string()))?;
            let got = receiver.await.map_err(|e| Error::Other(e.to_string()))??;
            let state = net.link_state("sat-0", "sat-1").await?;
            // sat-1 is on the short way only, sat-7 on the long way only.
            let forwarded = |c: serde_json::Value| c["forwarded"].as_u64().unwrap_or(0);
            let short = forwarded(net.counters("sat-1").await?);
            let long = forwarded(net.counters("sat-7").await?);
            Ok::<_, Error>((got == data, state, (short, long)))
        })
        .expect("ran")
        .expect("transferred");
    assert!(got, "content differs");
    assert_eq!(state, "down");
    // 40 MiB is about 4700 jumbo frames; a good share took each way.
    let (short, long) = forwarded;
    assert!(
        short > 1000 && long > 1000,
        "forwarded the short way {short}, the long way {long}"
    );
}

#[test]
fn tcp_streams_cross_the_constellation_and_counters_and_events_are_visible() {
    let tb = Testbed::from_file("topologies/ring-8.toml").expect("scenario");
    let (echoed, counters, echoes) = tb
        .run(|net| async move {
            let mut server = net.tcp_listen("sat-5", 8000).await?;
            let mut client = net.tcp_connect("sat-1", "sat-5", 8000).await?;
            let data = pattern(1 << 20);
            let sent = data.clone();
            let writer = tokio::spawn(async move {
                client.write_all(&sent).await?;
                client.shutdown().await?;
                Ok::<(), std::io::Error>(())
            });
            let mut got = Vec::new();
            server.read_to_end(&mut got).await?;
            writer.await.map_err(|e| Error::Other(e.to_string()))??;
            // Both ends are done with the connection: the listening side's
            // socket closes (the connecting side waits in TIME-WAIT) and
            // leaves the stack.
            let before = net.counters("sat-5").await?["tcp_connections"].clone();
            drop(server);
            net.sleep(1.0).await;
            let after = net.counters("sat-5").await?["tcp_connections"].clone();
            assert_eq!((before, after), (1.into(), 0.into()));
            // The scenario's own ping workload ran meanwhile.
            let echo = net
                .wait_for(|e| e["event"] == "echo" && e["seq"] == 3, 5.0)
                .await;
            Ok::<_, Error>((got == data, net.counters("sat-5").await?, echo))
        })
        .expect("ran")
        .expect("streamed");
    assert!(echoed, "content differs");
    assert!(
        counters["delivered_local"].as_u64().unwrap_or(0) > 100,
        "{counters}"
    );
    assert_eq!(counters["links"]["sat-4"], "up");
    let echo = echoes.expect("the ping workload's fourth echo");
    assert!((echo["rtt_ms"].as_f64().unwrap_or(0.0) - 8e3 * hop_s()).abs() < 0.01);
}

#[test]
fn a_testbed_run_repeats_exactly() {
    let once = || {
        Testbed::from_file("topologies/ring-8.toml")
            .expect("scenario")
            .run(|net| async move {
                let a = net.quic("sat-0", 5000).await?;
                let b = net.quic("sat-3", 5000).await?;
                let accept = tokio::spawn(async move {
                    let c = b.accept().await?.await.ok()?;
                    let mut s = c.accept_uni().await.ok()?;
                    s.read_to_end(1 << 20).await.ok()
                });
                let c = a
                    .connect(net.addr("sat-3", 5000)?, orbnet_node::quic::SERVER_NAME)
                    .map_err(|e| Error::Other(e.to_string()))?
                    .await
                    .map_err(|e| Error::Other(e.to_string()))?;
                let mut s = c
                    .open_uni()
                    .await
                    .map_err(|e| Error::Other(e.to_string()))?;
                s.write_all(&pattern(500_000))
                    .await
                    .map_err(|e| Error::Other(e.to_string()))?;
                s.finish().map_err(|e| Error::Other(e.to_string()))?;
                let got = accept.await.map_err(|e| Error::Other(e.to_string()))?;
                let stats: quinn::ConnectionStats = c.stats();
                Ok::<_, Error>((
                    got.map(|g| g.len()),
                    net.now(),
                    stats.path.sent_packets,
                    net.events(),
                ))
            })
            .expect("ran")
            .expect("transferred")
    };
    let (a, b) = (once(), once());
    assert_eq!(a.0, Some(500_000));
    assert_eq!(a, b);
}

/// A connection whose far end restarts, and so answers the next segment
/// with a reset, fails its reads with `ConnectionReset`: a task must not
/// take a reset for the end of the peer's bytes (a gateway would pass it
/// on to its kernel client as a clean, short stream).
#[test]
fn a_connection_reset_by_its_peer_fails_rather_than_ending() {
    let tb = Testbed::from_file("topologies/ring-8.toml").expect("scenario");
    let outcome = tb
        .run(|net| async move {
            let mut server = net.tcp_listen("sat-2", 8000).await?;
            let mut client = net.tcp_connect("sat-0", "sat-2", 8000).await?;
            client.write_all(b"hello").await?;
            let mut got = [0u8; 5];
            server.read_exact(&mut got).await?;
            net.crash("sat-2")?;
            net.sleep(0.1).await;
            net.restart("sat-2")?;
            net.sleep(0.5).await;
            client.write_all(b"again").await?;
            let mut rest = Vec::new();
            let read = tokio::select! {
                r = client.read_to_end(&mut rest) => Some(r.map_err(|e| e.kind())),
                () = net.sleep(10.0) => None,
            };
            Ok::<_, Error>((got, read))
        })
        .expect("ran")
        .expect("connected");
    assert_eq!(&outcome.0, b"hello");
    assert_eq!(outcome.1, Some(Err(std::io::ErrorKind::ConnectionReset)));
}
