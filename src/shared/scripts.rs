//! The Lua scripts the shared state runs (each atomic on the server, with the server's
//! clock, so that daemons whose clocks differ still agree) and the key names.
//!
//! Keys carry the endpoint id in a hash tag (`{ID}`), so that one endpoint's keys sit in
//! one slot of a Redis Cluster and one script may touch them all.

use std::sync::LazyLock;

use redis::Script;

/// `qcc:{ID}:open-until`: `END_MS CAUSE REASON`, expiring at its end.
pub fn open_key(id: &str) -> String {
    format!("qcc:{{{id}}}:open-until")
}

/// `qcc:{ID}:rpm`: the requests of the last minute, a sorted set scored by their ms.
pub fn rpm_key(id: &str) -> String {
    format!("qcc:{{{id}}}:rpm")
}

/// Admission. KEYS: open-until, rpm. ARGV: the rpm limit (0: none), a unique member.
/// Returns `{0, 0, ''}` (go: counted), `{1, WAIT_MS, LIMIT}` (limited: not counted) or
/// `{2, LEFT_MS, 'CAUSE REASON'}` (open on another daemon: not counted).
pub static ADMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local open = redis.call('GET', KEYS[1])
if open then
  local sep = string.find(open, ' ', 1, true)
  local ends = tonumber(sep and string.sub(open, 1, sep - 1) or open)
  if ends and ends > now then
    return {2, ends - now, sep and string.sub(open, sep + 1) or ''}
  end
end
local rpm = tonumber(ARGV[1])
if rpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 60000)
  if redis.call('ZCARD', KEYS[2]) >= rpm then
    local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    return {1, math.max(1, 60000 - (now - tonumber(oldest[2]))), 'rpm'}
  end
  redis.call('ZADD', KEYS[2], now, ARGV[2])
  redis.call('PEXPIRE', KEYS[2], 61000)
end
return {0, 0, ''}
",
    )
});

/// A breaker trip. KEYS: open-until. ARGV: the cooldown in ms, `CAUSE REASON`. Keeps an
/// end already stored when it is later. Returns 1 when stored.
pub static TRIP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ends = now + tonumber(ARGV[1])
local cur = redis.call('GET', KEYS[1])
if cur then
  local c = tonumber(string.match(cur, '^%d+'))
  if c and c >= ends then return 0 end
end
redis.call('SET', KEYS[1], ends .. ' ' .. ARGV[2], 'PX', ARGV[1])
return 1
",
    )
});

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_namespaced_and_hash_tagged() {
        assert_eq!(super::rpm_key("a1b2c3"), "qcc:{a1b2c3}:rpm");
        assert_eq!(super::open_key("a1b2c3"), "qcc:{a1b2c3}:open-until");
    }
}
