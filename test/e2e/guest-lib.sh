# Helpers for the steps the harness sends to the guest (installed as /e2e.sh in the initramfs; every
# step starts with `. /e2e.sh`). Every loop is bounded: about 5 s at most.
CHIP=gpiochip0

# poll CONDITION-COMMAND...: retries every 50 ms, up to 100 times; says what it waited for on failure.
poll() {
  i=0
  until "$@" >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -ge 100 ]; then echo "timed out waiting for: $*"; return 1; fi
    sleep 0.05
  done
}
line_is() { gpioinfo "$CHIP" | grep -Eq "line +$1:.*$2"; }
lines_at_least() { [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]; }
irq_requested() { grep -q "$1" /proc/interrupts; }
irq_gone() { ! grep -q "$1" /proc/interrupts; }

# hold LINE VALUE: gpioset keeps LINE an output at VALUE in the background until release LINE.
hold() {
  gpioset -m signal "$CHIP" "$1=$2" &
  echo $! >"/tmp/hold.$1"
  poll line_is "$1" '"gpioset" +output'
}
# release LINE: ends the gpioset holding LINE; returns once gpiolib has freed the line, i.e. after the
# driver's SET_DIRECTION(NONE) was answered.
release() {
  kill "$(cat "/tmp/hold.$1")"
  rm -f "/tmp/hold.$1"
  poll line_is "$1" 'unused'
}
# pulse LINE: hold LINE at 1, then release it (the pin falls back to its pull-down).
pulse() { hold "$1" 1 && release "$1"; }

# monitor NAME ARGS...: gpiomon ARGS in the background, printing "offset edge" (edge 1 rising,
# 0 falling) to /tmp/NAME; returns once its interrupt is requested.
monitor() {
  name=$1; shift
  gpiomon -b -F '%o %e' "$@" >"/tmp/$name" 2>&1 &
  echo $! >"/tmp/$name.pid"
  poll irq_requested gpiomon
}
# stop_monitor NAME: kills it (if still running) and waits until its interrupt is freed.
stop_monitor() {
  kill "$(cat "/tmp/$1.pid")" 2>/dev/null
  poll irq_gone gpiomon
}
# settle: a short pause for an event that must NOT come (used before counting).
settle() { sleep 0.5; }
