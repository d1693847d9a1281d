//! One client connection: read, parse, dispatch, write, in request order.
//!
//! The network side knows no commands: it turns bytes into argument
//! vectors, hands them to `dispatch`, and encodes the replies.

use crate::clients::ClientInfo;
use crate::protocol::encode::{encode, Resp};
use crate::protocol::request::{Parsed, ParserLimits, RequestParser};
use crate::worker::Worker;
use bytes::BytesMut;
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use storage::Reply;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Whether replies are sent (CLIENT REPLY).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    /// Normal.
    On,
    /// Send nothing until CLIENT REPLY ON.
    Off,
    /// Skip the reply of the next command only.
    Skip,
    /// Skipping the reply of the current command (set from `Skip`).
    SkipThis,
}

/// A connection's own state.
pub struct Client {
    /// CLIENT ID.
    pub id: u64,
    /// Selected database.
    pub db: usize,
    /// Protocol version.
    pub resp: Resp,
    /// False until AUTH succeeds when requirepass is set.
    pub authenticated: bool,
    /// CLIENT REPLY state.
    pub reply_mode: ReplyMode,
    /// Close the connection once the current reply is written (QUIT).
    pub close_after_reply: bool,
    /// CLIENT NO-TOUCH.
    pub no_touch: bool,
    /// What other connections see of this one.
    pub info: Arc<ClientInfo>,
    /// The queued transaction between MULTI and EXEC/DISCARD.
    pub multi: Option<crate::commands::multi::MultiState>,
    /// Keys under WATCH, in the order watched.
    pub watched: Vec<crate::watch::Watched>,
    /// Hook (pubsub): this connection's subscriptions.
    pub subs: crate::pubsub::ClientSubs,
    /// Hook (tracking): CLIENT TRACKING options while tracking is on.
    pub tracking: Option<crate::tracking::Options>,
    /// Hook (tracking): CLIENT CACHING was given for the next command.
    pub caching: bool,
    /// The (command, container) last written to `info.last_cmd`, so a
    /// connection repeating one command skips that mutex.
    pub last_cmd: Option<LastCmd>,
}

/// A command row and its container row, compared by address.
pub type LastCmd = (
    &'static crate::command::CommandSpec,
    Option<&'static crate::command::CommandSpec>,
);

/// What a command handler gets: the client and the worker it runs on.
pub struct ConnCtx {
    /// The connection's state.
    pub client: Client,
    /// The worker (and through it, its shard and the shared state).
    pub worker: Rc<Worker>,
    /// Shards held for EXEC or a script: while set, dispatch routes every
    /// command through it (see `hold`).
    pub hold: Option<Rc<crate::hold::Hold>>,
}

/// Redis's refusal of a remote client in protected mode.
const PROTECTED_MODE_DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Most pipelined requests sent to another shard in one message.
const MAX_BATCH: usize = 256;

/// Serves one connection until it closes.
pub async fn serve(worker: Rc<Worker>, std_stream: std::net::TcpStream) {
    if let Err(e) = std_stream.set_nonblocking(true) {
        tracing::debug!("cannot set a connection non-blocking: {e}");
        return;
    }
    let Ok(mut stream) = tokio::net::TcpStream::from_std(std_stream) else {
        return;
    };
    let shared = worker.shared.clone();
    let config = shared.config();
    let connected = shared
        .stats
        .connected_clients
        .fetch_add(1, Ordering::Relaxed)
        + 1;
    if connected > config.maxclients() as usize {
        shared
            .stats
            .connected_clients
            .fetch_sub(1, Ordering::Relaxed);
        shared
            .stats
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        return;
    }
    let (Ok(addr), Ok(laddr)) = (stream.peer_addr(), stream.local_addr()) else {
        shared
            .stats
            .connected_clients
            .fetch_sub(1, Ordering::Relaxed);
        return;
    };
    let keepalive = config.tcp_keepalive_secs();
    if keepalive > 0 {
        // Like Redis's anetKeepAlive: detect dead peers, keep NATs open.
        let ka = socket2::TcpKeepalive::new().with_time(Duration::from_secs(keepalive));
        let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&ka);
    }
    if config.protected_mode() && config.requirepass().is_none() && !addr.ip().is_loopback() {
        shared
            .stats
            .connected_clients
            .fetch_sub(1, Ordering::Relaxed);
        shared
            .stats
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        let _ = stream.write_all(PROTECTED_MODE_DENIED).await;
        return;
    }
    let id = shared.clients.next_id();
    let fd = {
        use std::os::fd::AsRawFd;
        stream.as_raw_fd() as i64
    };
    let info = Arc::new(ClientInfo::new(id, addr, laddr, fd, worker.id));
    shared.clients.add(info.clone());
    let mut ctx = ConnCtx {
        client: Client {
            id,
            db: 0,
            resp: Resp::V2,
            authenticated: config.requirepass().is_none(),
            reply_mode: ReplyMode::On,
            close_after_reply: false,
            no_touch: false,
            info: info.clone(),
            multi: None,
            watched: Vec::new(),
            subs: Default::default(),
            tracking: None,
            caching: false,
            last_cmd: None,
        },
        worker,
        hold: None,
    };
    drop(config);
    if let Err(e) = run(&mut ctx, &mut stream).await {
        tracing::debug!("client {id} closed: {e}");
    }
    // A hold left by a cancelled EXEC releases before the watches go.
    ctx.hold = None;
    crate::commands::multi::forget_watches(&mut ctx);
    crate::commands::pubsub::leave_all(&mut ctx);
    shared.hub.tracking.disable(id);
    shared.hub.monitors.remove(id);
    shared.clients.remove(id);
    shared
        .stats
        .connected_clients
        .fetch_sub(1, Ordering::Relaxed);
}

async fn run(ctx: &mut ConnCtx, stream: &mut tokio::net::TcpStream) -> std::io::Result<()> {
    let shared = ctx.worker.shared.clone();
    let info = ctx.client.info.clone();
    let mut parser = RequestParser::default();
    // A request parsed ahead while filling a batch, run next.
    let mut pending: Option<Parsed> = None;
    let mut rbuf = BytesMut::with_capacity(16 * 1024);
    let mut wbuf: Vec<u8> = Vec::with_capacity(16 * 1024);
    // Outbox bytes moved into `wbuf` and not written yet.
    let mut taken = 0usize;
    loop {
        let (max_bulk, query_limit, timeout) = {
            let cfg = shared
                .config
                .read()
                .map_err(|_| std::io::Error::other("config lock poisoned"))?;
            (
                cfg.proto_max_bulk_len(),
                cfg.client_query_buffer_limit(),
                cfg.timeout_secs(),
            )
        };
        let limits = ParserLimits {
            proto_max_bulk_len: max_bulk,
            authenticated: ctx.client.authenticated,
        };
        // Run every complete request already buffered (pipelining), then
        // write all their replies at once.
        loop {
            if info.killed.load(Ordering::Relaxed) {
                return Ok(());
            }
            // AUTH earlier in this pipeline lifts the unauthenticated limits
            // for the very next request, as in Redis.
            let limits = ParserLimits {
                authenticated: ctx.client.authenticated,
                ..limits
            };
            let parsed = match pending.take() {
                Some(p) => p,
                None => parser.parse(&mut rbuf, &limits),
            };
            match parsed {
                Parsed::Request(argv) => {
                    // Consecutive pipelined requests for the same other
                    // shard travel as one message.
                    match crate::dispatch::remote_plan(ctx, &argv) {
                        None => {
                            // Hook (blocking): a client that disconnects while
                            // its command is blocked drops the command (its
                            // waiters are forgotten) and the connection.
                            let reply = {
                                let exec = crate::dispatch::execute(ctx, argv);
                                tokio::pin!(exec);
                                // Most commands finish at their first poll:
                                // try that before setting up the select. A
                                // pending future is polled again below with
                                // the task's waker, which replaces this one.
                                let mut first = Context::from_waker(Waker::noop());
                                match exec.as_mut().poll(&mut first) {
                                    Poll::Ready(r) => r,
                                    Poll::Pending => loop {
                                        tokio::select! {
                                            biased;
                                            r = &mut exec => break r,
                                            _ = crate::blocking::closed_while_blocked(&info, stream) => return Ok(()),
                                            // Frames pushed while the command runs (a
                                            // blocked BLPOP, a hop): offer them to the
                                            // socket now, between replies.
                                            _ = info.outbox.wake.notified(), if wbuf.is_empty() => {
                                                taken += info.outbox.drain_front(&mut wbuf);
                                                let n = match stream.try_write(&wbuf) {
                                                    Ok(n) => n,
                                                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
                                                    Err(e) => return Err(e),
                                                };
                                                info.outbox.ack_taken();
                                                wbuf.drain(..n);
                                            }
                                        }
                                    },
                                }
                            };
                            taken += info.outbox.drain_front(&mut wbuf);
                            write_reply(ctx, &reply, &mut wbuf);
                            taken += info.outbox.drain_into(&mut wbuf, usize::MAX, true);
                        }
                        Some(plan) => {
                            let target = plan.target;
                            let mut batch = vec![(plan, argv)];
                            while batch.len() < MAX_BATCH {
                                match parser.parse(&mut rbuf, &limits) {
                                    Parsed::Request(next) => {
                                        match crate::dispatch::remote_plan(ctx, &next) {
                                            Some(p) if p.target == target => batch.push((p, next)),
                                            _ => {
                                                pending = Some(Parsed::Request(next));
                                                break;
                                            }
                                        }
                                    }
                                    Parsed::Incomplete => break,
                                    other => {
                                        pending = Some(other);
                                        break;
                                    }
                                }
                            }
                            for reply in crate::dispatch::execute_remote_batch(ctx, batch).await {
                                taken += info.outbox.drain_front(&mut wbuf);
                                write_reply(ctx, &reply, &mut wbuf);
                            }
                            taken += info.outbox.drain_into(&mut wbuf, usize::MAX, true);
                        }
                    }
                    if ctx.client.close_after_reply {
                        write_out(stream, &info, &wbuf).await?;
                        return Ok(());
                    }
                    if wbuf.len() >= 64 * 1024 {
                        flush(stream, &info, &shared, &mut wbuf, &mut taken).await?;
                    }
                }
                Parsed::Incomplete => break,
                Parsed::Error(e) => {
                    if !e.reply_before_close() {
                        // POST / Host: — Redis drops the client without
                        // writing anything, pending replies included.
                        tracing::warn!("Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: commands to Redis. Connection aborted.");
                        return Ok(());
                    }
                    tracing::debug!(
                        "Protocol error ({}) from client: id={}",
                        e.log_reason(),
                        ctx.client.id
                    );
                    wbuf.push(b'-');
                    wbuf.extend_from_slice(&e.message_bytes());
                    wbuf.extend_from_slice(b"\r\n");
                    write_out(stream, &info, &wbuf).await?;
                    return Ok(());
                }
            }
        }
        // Replies, then whatever others pushed meanwhile, in chunks so a
        // slow reader holds at most one chunk here (the rest stays counted
        // against its limit in the outbox).
        loop {
            taken += info.outbox.drain_into(&mut wbuf, 64 * 1024, true);
            if wbuf.is_empty() {
                break;
            }
            flush(stream, &info, &shared, &mut wbuf, &mut taken).await?;
        }
        if wbuf.capacity() > 1024 * 1024 {
            wbuf.shrink_to(16 * 1024);
        }
        if (rbuf.len() + parser.pending_bytes()) as u64 >= query_limit {
            tracing::warn!(
                "Closing client that reached max query buffer length: id={}",
                ctx.client.id
            );
            return Ok(());
        }
        info.qbuf.store(rbuf.len(), Ordering::Relaxed);
        if rbuf.capacity() - rbuf.len() < 4096 {
            rbuf.reserve(16 * 1024);
        }
        let read = stream.read_buf(&mut rbuf);
        // Redis never times out a client in pub/sub mode.
        let timeout = if ctx.client.subs.active() { 0 } else { timeout };
        let n = if timeout > 0 {
            tokio::select! {
                r = tokio::time::timeout(Duration::from_secs(timeout), read) => match r {
                    Ok(r) => r?,
                    Err(_) => return Ok(()),
                },
                _ = info.kill_notify.notified() => return Ok(()),
                // Pushed frames: go round and write them (read_buf is
                // cancel-safe: nothing was read).
                _ = info.outbox.wake.notified() => continue,
            }
        } else {
            tokio::select! {
                r = read => r?,
                _ = info.kill_notify.notified() => return Ok(()),
                _ = info.outbox.wake.notified() => continue,
            }
        };
        if n == 0 {
            return Ok(());
        }
        shared
            .stats
            .net_input_bytes
            .fetch_add(n as u64, Ordering::Relaxed);
        // Idle time is per read, not per command: one clock read per batch.
        info.last_interaction_ms
            .store(info.created.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

/// Writes `buf`, giving up when the client is killed meanwhile (a client
/// over its output limit that stopped reading must not hold its task).
async fn write_out(
    stream: &mut tokio::net::TcpStream,
    info: &ClientInfo,
    buf: &[u8],
) -> std::io::Result<()> {
    if info.killed.load(Ordering::Relaxed) {
        return Err(std::io::Error::other("client killed"));
    }
    tokio::select! {
        r = stream.write_all(buf) => r,
        _ = info.kill_notify.notified() => Err(std::io::Error::other("client killed")),
    }
}

/// Writes and empties `wbuf`, releasing the outbox bytes it held.
async fn flush(
    stream: &mut tokio::net::TcpStream,
    info: &ClientInfo,
    shared: &crate::server::Shared,
    wbuf: &mut Vec<u8>,
    taken: &mut usize,
) -> std::io::Result<()> {
    // Offer everything to the socket at once, then acknowledge the pushed
    // frames as delivered (what Redis does once per event-loop turn); the
    // rest, if the socket is full, follows asynchronously.
    let n = match stream.try_write(wbuf) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
        Err(e) => return Err(e),
    };
    info.outbox.ack_taken();
    if n < wbuf.len() {
        write_out(stream, info, &wbuf[n..]).await?;
    }
    shared
        .stats
        .net_output_bytes
        .fetch_add(wbuf.len() as u64, Ordering::Relaxed);
    wbuf.clear();
    info.outbox.written(std::mem::take(taken));
    Ok(())
}

fn write_reply(ctx: &mut ConnCtx, reply: &Reply, wbuf: &mut Vec<u8>) {
    match ctx.client.reply_mode {
        ReplyMode::On => encode(reply, ctx.client.resp, wbuf),
        ReplyMode::Off => {}
        ReplyMode::Skip => ctx.client.reply_mode = ReplyMode::SkipThis,
        ReplyMode::SkipThis => ctx.client.reply_mode = ReplyMode::On,
    }
}
