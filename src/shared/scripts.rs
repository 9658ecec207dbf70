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

/// `qcc:{ID}:tpm`: tokens by the second they were counted in (a hash: second → tokens).
pub fn tpm_key(id: &str) -> String {
    format!("qcc:{{{id}}}:tpm")
}

/// `qcc:{ID}:tokens:YYYY-MM-DD`: tokens of a UTC day.
pub fn day_tokens_key(id: &str, day: &str) -> String {
    format!("qcc:{{{id}}}:tokens:{day}")
}

/// `qcc:{ID}:spend-day:YYYY-MM-DD`: micro-dollars spent on a UTC day.
pub fn day_spend_key(id: &str, day: &str) -> String {
    format!("qcc:{{{id}}}:spend-day:{day}")
}

/// `qcc:{ID}:spend-month:YYYY-MM`: micro-dollars spent in a UTC month.
pub fn month_spend_key(id: &str, month: &str) -> String {
    format!("qcc:{{{id}}}:spend-month:{month}")
}

/// Admission. KEYS: open-until, rpm, tpm, day tokens, day spend, month spend. ARGV: rpm,
/// tpm, tokens per day, day budget, month budget (micro-dollars; 0: no limit), a unique
/// member, the request's token estimate, ms to the end of the UTC day and month.
/// Returns `{0, 0, ''}` (go: counted in rpm), `{1, WAIT_MS, 'LIMIT WHY'}` (limited: nothing
/// counted) or `{2, LEFT_MS, 'CAUSE REASON'}` (open on another daemon: nothing counted).
/// Tokens and spend are added by [`ADD`] when answers end; a request is over a token limit
/// when the count is at it, or would pass it by its estimate (as the local limits say).
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
local rpm, tpm, tpd = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local bday, bmonth = tonumber(ARGV[4]), tonumber(ARGV[5])
local estimate = tonumber(ARGV[7])
local function over(used, limit)
  return used >= limit or (used > 0 and used + estimate > limit)
end
if bday > 0 then
  local spent = tonumber(redis.call('GET', KEYS[5]) or '0')
  if spent >= bday then
    return {1, tonumber(ARGV[8]), 'budget-day ' .. spent .. ' of ' .. bday .. ' micro-dollars spent today'}
  end
end
if bmonth > 0 then
  local spent = tonumber(redis.call('GET', KEYS[6]) or '0')
  if spent >= bmonth then
    return {1, tonumber(ARGV[9]), 'budget-month ' .. spent .. ' of ' .. bmonth .. ' micro-dollars spent this month'}
  end
end
if tpd > 0 then
  local used = tonumber(redis.call('GET', KEYS[4]) or '0')
  if over(used, tpd) then
    return {1, tonumber(ARGV[8]), 'tokens-per-day ' .. used .. ' of ' .. tpd .. ' tokens used today'}
  end
end
if tpm > 0 then
  local sec = math.floor(now / 1000)
  local fields = redis.call('HGETALL', KEYS[3])
  local used, oldest, stale = 0, nil, {}
  for i = 1, #fields, 2 do
    local s = tonumber(fields[i])
    if s <= sec - 60 then
      table.insert(stale, fields[i])
    else
      used = used + tonumber(fields[i + 1])
      if not oldest or s < oldest then oldest = s end
    end
  end
  if #stale > 0 then redis.call('HDEL', KEYS[3], unpack(stale)) end
  if over(used, tpm) then
    return {1, math.max(1, (oldest + 60) * 1000 - now), 'tpm ' .. used .. ' tokens in the last 60 s (limit ' .. tpm .. ')'}
  end
end
if rpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 60000)
  local n = redis.call('ZCARD', KEYS[2])
  if n >= rpm then
    local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    return {1, math.max(1, 60000 - (now - tonumber(oldest[2]))), 'rpm ' .. n .. ' requests in the last 60 s (limit ' .. rpm .. ')'}
  end
  redis.call('ZADD', KEYS[2], now, ARGV[6])
  redis.call('PEXPIRE', KEYS[2], 61000)
end
return {0, 0, ''}
",
    )
});

/// An answer ended. KEYS: tpm, day tokens, day spend, month spend. ARGV: its tokens, its
/// cost in micro-dollars. Each key expires on its own (a minute; two days; 62 days).
pub static ADD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local sec = tonumber(t[1])
local tokens, micros = tonumber(ARGV[1]), tonumber(ARGV[2])
if tokens > 0 then
  redis.call('HINCRBY', KEYS[1], sec, tokens)
  redis.call('EXPIRE', KEYS[1], 61)
  redis.call('INCRBY', KEYS[2], tokens)
  redis.call('EXPIRE', KEYS[2], 172800)
end
if micros > 0 then
  redis.call('INCRBY', KEYS[3], micros)
  redis.call('EXPIRE', KEYS[3], 172800)
  redis.call('INCRBY', KEYS[4], micros)
  redis.call('EXPIRE', KEYS[4], 5356800)
end
return 1
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
