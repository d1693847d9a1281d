//! Function libraries in RDB files: they survive SAVE and a restart (at 1
//! and 4 shards), and the files move both ways between magpie and a real
//! redis-server 7.0 (FUNCTION2 records before the databases).

#![allow(clippy::unwrap_used)]

use magpie_tests::{free_port, Server};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const LIB: &str = "#!lua name=keep\nredis.register_function('kept', function(keys, args) return redis.call('get', keys[1]) end)\nredis.register_function{function_name='ro', callback=function() return 'ro' end, flags={'no-writes'}}";
/// Long enough to be LZF-compressed in the file.
fn long_lib() -> String {
    let mut s = String::from("#!lua name=big\n");
    for i in 0..20 {
        s += &format!("redis.register_function('big{i}', function() return {i} end)\n");
    }
    s
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "magpie-fpersist-{name}-{}-{}",
        std::process::id(),
        free_port()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn magpie(dir: &Path, shards: &str) -> Server {
    Server::start(&["--dir", dir.to_str().unwrap(), "--shards", shards])
}

struct Redis {
    port: u16,
    child: Child,
}

impl Redis {
    fn start(dir: &Path) -> Redis {
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed");
        let r = Redis { port, child };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(mut c) = r.client().get_connection() {
                if redis::cmd("PING").query::<String>(&mut c).is_ok() {
                    return r;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not start");
    }
    fn client(&self) -> redis::Client {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).unwrap()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn load_libs(c: &mut redis::Connection) {
    let big = long_lib();
    for code in [LIB, big.as_str()] {
        let _: String = redis::cmd("FUNCTION")
            .arg("LOAD")
            .arg(code)
            .query(c)
            .unwrap();
    }
    let _: () = redis::cmd("SET").arg("k").arg("v").query(c).unwrap();
}

fn check_libs(c: &mut redis::Connection) {
    let got: String = redis::cmd("FCALL")
        .arg("kept")
        .arg(1)
        .arg("k")
        .query(c)
        .unwrap();
    assert_eq!(got, "v");
    let got: String = redis::cmd("FCALL_RO").arg("ro").arg(0).query(c).unwrap();
    assert_eq!(got, "ro");
    let got: i64 = redis::cmd("FCALL").arg("big17").arg(0).query(c).unwrap();
    assert_eq!(got, 17);
    let list: Vec<redis::Value> = redis::cmd("FUNCTION").arg("LIST").query(c).unwrap();
    assert_eq!(list.len(), 2);
}

#[test]
fn functions_survive_save_and_restart() {
    for shards in ["1", "4"] {
        let dir = scratch("restart");
        {
            let s = magpie(&dir, shards);
            let mut c = s.connect();
            load_libs(&mut c);
            let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
        }
        let s = magpie(&dir, shards);
        let mut c = s.connect();
        check_libs(&mut c);
        // FUNCTION FLUSH then SAVE: the next start has none.
        let _: () = redis::cmd("FUNCTION").arg("FLUSH").query(&mut c).unwrap();
        let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
        drop(c);
        drop(s);
        let s = magpie(&dir, shards);
        let mut c = s.connect();
        let list: Vec<redis::Value> = redis::cmd("FUNCTION").arg("LIST").query(&mut c).unwrap();
        assert!(list.is_empty());
    }
}

#[test]
fn function_files_move_between_magpie_and_redis() {
    let dir = scratch("m2r");
    {
        let s = magpie(&dir, "4");
        let mut c = s.connect();
        load_libs(&mut c);
        let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    }
    {
        let r = Redis::start(&dir);
        let mut c = r.client().get_connection().unwrap();
        check_libs(&mut c);
    }
    let dir = scratch("r2m");
    {
        let r = Redis::start(&dir);
        let mut c = r.client().get_connection().unwrap();
        load_libs(&mut c);
        let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    }
    let s = magpie(&dir, "1");
    let mut c = s.connect();
    check_libs(&mut c);
}

#[test]
fn function_dump_payloads_move_between_magpie_and_redis() {
    let r = Redis::start(&scratch("dump-r"));
    let mut rc = r.client().get_connection().unwrap();
    let s = Server::start(&["--shards", "4"]);
    let mut mc = s.connect();
    load_libs(&mut rc);
    let payload: Vec<u8> = redis::cmd("FUNCTION").arg("DUMP").query(&mut rc).unwrap();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut mc).unwrap();
    let _: () = redis::cmd("FUNCTION")
        .arg("RESTORE")
        .arg(&payload)
        .query(&mut mc)
        .unwrap();
    check_libs(&mut mc);
    let payload: Vec<u8> = redis::cmd("FUNCTION").arg("DUMP").query(&mut mc).unwrap();
    let _: () = redis::cmd("FUNCTION")
        .arg("RESTORE")
        .arg(&payload)
        .arg("FLUSH")
        .query(&mut rc)
        .unwrap();
    check_libs(&mut rc);
}
