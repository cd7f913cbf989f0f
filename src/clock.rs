//! Simulated time: integer milliseconds since the Unix epoch, and the local
//! wall-clock view (weekday, hour, minute) in the scenario's time zone.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::config::model::Millis;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub i64);

impl SimTime {
    pub fn from_timestamp(t: Timestamp) -> Self {
        SimTime(t.as_millisecond())
    }
    pub fn plus(self, d: Millis) -> Self {
        SimTime(self.0.saturating_add(d.0))
    }
    pub fn since(self, earlier: SimTime) -> Millis {
        Millis(self.0 - earlier.0)
    }
    /// RFC 3339 in UTC with milliseconds, as every output writes times.
    pub fn rfc3339(self) -> String {
        match Timestamp::from_millisecond(self.0) {
            Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            Err(_) => format!("@{}ms", self.0),
        }
    }
}

/// Local time of day in the scenario's zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Local {
    /// 0 = Monday.
    pub weekday: usize,
    pub hour: u32,
    pub minute_of_day: u32,
}

pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Converts instants to local time, caching the UTC offset per quarter hour of
/// UTC: every real zone transition falls on a quarter hour, so the zone lookup
/// is paid at most four times an hour of simulated time.
#[derive(Clone, Debug)]
pub struct LocalClock {
    tz: TimeZone,
    cached_hour: i64,
    offset_ms: i64,
}

impl LocalClock {
    pub fn new(tz: TimeZone) -> Self {
        LocalClock { tz, cached_hour: i64::MIN, offset_ms: 0 }
    }

    pub fn local(&mut self, t: SimTime) -> Local {
        let hour = t.0.div_euclid(900_000);
        if hour != self.cached_hour {
            self.cached_hour = hour;
            self.offset_ms = Timestamp::from_millisecond(t.0)
                .map(|ts| i64::from(self.tz.to_offset(ts).seconds()) * 1000)
                .unwrap_or(0);
        }
        let local_ms = t.0 + self.offset_ms;
        let day = local_ms.div_euclid(86_400_000);
        let ms_of_day = local_ms.rem_euclid(86_400_000);
        // 1970-01-01 was a Thursday (index 3 from Monday).
        let weekday = (day + 3).rem_euclid(7) as usize;
        let minute_of_day = (ms_of_day / 60_000) as u32;
        Local { weekday, hour: minute_of_day / 60, minute_of_day }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_with_milliseconds() {
        let t: Timestamp = "2026-11-27T08:01:10Z".parse().unwrap();
        assert_eq!(SimTime::from_timestamp(t).rfc3339(), "2026-11-27T08:01:10.000Z");
    }

    #[test]
    fn local_time_follows_the_zone_and_dst() {
        let mut c = LocalClock::new(TimeZone::get("Europe/Dublin").unwrap());
        // Friday 2026-11-27 08:30 UTC is 08:30 in Dublin (winter time).
        let t = SimTime::from_timestamp("2026-11-27T08:30:00Z".parse().unwrap());
        assert_eq!(c.local(t), Local { weekday: 4, hour: 8, minute_of_day: 510 });
        // Summer time: 2026-07-01 08:30 UTC is 09:30 in Dublin, a Wednesday.
        let t = SimTime::from_timestamp("2026-07-01T08:30:00Z".parse().unwrap());
        assert_eq!(c.local(t), Local { weekday: 2, hour: 9, minute_of_day: 570 });
        let mut ny = LocalClock::new(TimeZone::get("America/New_York").unwrap());
        let t = SimTime::from_timestamp("2026-11-27T03:00:00Z".parse().unwrap());
        assert_eq!(ny.local(t).weekday, 3); // still Thursday evening in New York
    }
}
