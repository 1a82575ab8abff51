//! CPU time and peak memory of a process, read from /proc.
//!
//! CPU is utime + stime of the whole process (all threads) from
//! `/proc/<pid>/stat`; peak memory is `VmHWM` from `/proc/<pid>/status`,
//! the resident high-water mark since the process started. UDP drops are
//! the kernel's per-socket counter (`/proc/net/udp`, last column) summed
//! over the process's open sockets: datagrams that found a full receive
//! buffer, which tells the server's losses from the generator's.

use crate::error::LoadError;
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;

/// Clock ticks per second of `/proc/<pid>/stat`; 100 on every Linux we
/// know of, asked of `getconf` in case this one differs.
pub fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// The first three fields of `/proc/loadavg` (1, 5, 15 minutes), or "?".
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_string())
}

/// A process whose cost we measure.
#[derive(Debug, Clone)]
pub struct Watched {
    dir: PathBuf,
    ticks: f64,
}

impl Watched {
    /// The process `pid` ("self" for this one).
    pub fn new(pid: &str) -> Result<Watched, LoadError> {
        let dir = PathBuf::from("/proc").join(pid);
        if !dir.join("stat").exists() {
            return Err(LoadError::Setup(format!("no process {pid} in /proc")));
        }
        Ok(Watched {
            dir,
            ticks: clock_ticks(),
        })
    }

    /// CPU seconds (user + system) used so far.
    pub fn cpu_seconds(&self) -> Result<f64, LoadError> {
        let stat = std::fs::read_to_string(self.dir.join("stat"))?;
        parse_cpu_ticks(&stat)
            .map(|t| t as f64 / self.ticks)
            .ok_or_else(|| LoadError::Setup(format!("unreadable {}/stat", self.dir.display())))
    }

    /// Peak resident memory in MiB.
    pub fn peak_rss_mib(&self) -> Result<f64, LoadError> {
        let status = std::fs::read_to_string(self.dir.join("status"))?;
        parse_vm_hwm_kib(&status)
            .map(|kib| kib as f64 / 1024.0)
            .ok_or_else(|| LoadError::Setup(format!("no VmHWM in {}/status", self.dir.display())))
    }
}

impl Watched {
    /// Datagrams dropped so far on the process's open UDP sockets, or
    /// `None` if its sockets cannot be listed (another user's process).
    pub fn udp_drops(&self) -> Option<u64> {
        let inodes: HashSet<u64> = std::fs::read_dir(self.dir.join("fd"))
            .ok()?
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter_map(|target| socket_inode(&target.to_string_lossy()))
            .collect();
        let mut drops = 0;
        for table in ["net/udp", "net/udp6"] {
            if let Ok(text) = std::fs::read_to_string(self.dir.join(table)) {
                drops += drops_of(&text, &inodes);
            }
        }
        Some(drops)
    }
}

/// The inode of a `socket:[N]` fd link.
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Sum of the `drops` column over the rows of `/proc/net/udp` whose
/// inode (column 10) is in `inodes`.
fn drops_of(table: &str, inodes: &HashSet<u64>) -> u64 {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let inode: u64 = cols.get(9)?.parse().ok()?;
            let drops: u64 = cols.last()?.parse().ok()?;
            inodes.contains(&inode).then_some(drops)
        })
        .sum()
}

/// utime + stime in ticks. The command name (field 2) may hold spaces and
/// parentheses, so fields are counted from the last `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) sit at 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn parse_vm_hwm_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fields are found even when the command name has spaces and parens.
    #[test]
    fn stat_and_status_parse() {
        let stat = "4242 (odd) name) S 1 2 3 4 5 6 7 8 9 10 250 40 0 0 20 0 9 0 100";
        assert_eq!(parse_cpu_ticks(stat), Some(290));
        assert_eq!(parse_cpu_ticks("garbage"), None);
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t  5120 kB\n";
        assert_eq!(parse_vm_hwm_kib(status), Some(5120));
    }

    /// Drops are summed over the process's own sockets only.
    #[test]
    fn udp_drops_parse() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
            1: 0100007F:C350 00000000:0000 07 00000000:00000000 00:00000000 00000000  0 0 4242 2 0000000000000000 17\n\
            2: 0100007F:C351 00000000:0000 07 00000000:00000000 00:00000000 00000000  0 0 4343 2 0000000000000000 5\n";
        let mine: HashSet<u64> = [4242].into();
        assert_eq!(drops_of(table, &mine), 17);
        assert_eq!(socket_inode("socket:[4242]"), Some(4242));
        assert_eq!(socket_inode("pipe:[4242]"), None);
    }

    /// This process can be watched.
    #[test]
    fn self_is_readable() {
        let me = Watched::new("self");
        assert!(me.is_ok_and(|w| w.cpu_seconds().is_ok() && w.peak_rss_mib().is_ok()));
    }
}
