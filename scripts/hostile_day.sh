#!/bin/bash
# The demo day over a private Mosquitto while an intruder publishes, with mosquitto_pub on the
# demo district's real topics, the three messages of issue 10 for the whole run: a battery
# reading stamped 2999-12-31, a reading of -99,999,999 kW and a stray `offline` status.
# Usage: scripts/hostile_day.sh OUT_DIR   (needs mosquitto, mosquitto_pub and vpp on PATH)
set -eu
out=${1:?usage: scripts/hostile_day.sh OUT_DIR}
mkdir -p "$out"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" > "$out/mosquitto.conf"
mosquitto -c "$out/mosquitto.conf" > "$out/mosquitto.log" 2>&1 &
broker=$!
trap 'kill $broker' EXIT
sleep 0.5
vpp simulate configs/scenarios/demo_peak_day.yaml --mqtt "mqtt://127.0.0.1:$port" \
  --out "$out/report" > "$out/simulate.txt" 2>&1 &
sim=$!
published=0
while kill -0 $sim 2>/dev/null; do
  mosquitto_pub -p "$port" -t vpp/v1/haoyu-wire-plant/bess/telemetry \
    -m '{"ts": "2999-12-31T23:59:59+00:00", "power_kw": -100, "soc": 0.5, "available": true}'
  mosquitto_pub -p "$port" -t vpp/v1/qihang-stamping-plant/process/telemetry \
    -m '{"ts": "2026-07-15T11:30:00+08:00", "power_kw": -99999999, "available": true}'
  mosquitto_pub -p "$port" -t vpp/v1/haoyu-wire-plant/status \
    -m '{"state": "offline", "ts": "2026-07-15T11:00:00+08:00"}'
  published=$((published + 3))
  sleep 0.2
done
rc=0
wait $sim || rc=$?
echo "published $published hostile messages; vpp simulate exit code $rc"
grep -A1 -E "MET|refused" "$out/simulate.txt"
exit $rc
