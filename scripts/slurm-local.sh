#!/usr/bin/env bash
# A one-node Slurm cluster on 127.0.0.1, for trying and testing ktrack's Slurm path.
#
#   scripts/slurm-local.sh up       install Slurm and munge when missing (root, apt-get),
#                                   start munged, slurmctld and slurmd; wait until the node is idle
#   scripts/slurm-local.sh status   say what runs; exit 0 when the cluster takes jobs
#   scripts/slurm-local.sh down     stop what `up` started, by PID
#
# Everything lives in a scratch folder (KTRACK_SLURM_DIR, default /tmp/ktrack-slurm):
# slurm.conf, state, spool, PID and log files. When /etc/slurm/slurm.conf does not
# exist it is linked to the scratch one, so plain sbatch/srun/squeue find the
# cluster; otherwise export SLURM_CONF=<scratch>/slurm.conf (status prints it).
set -euo pipefail

DIR="${KTRACK_SLURM_DIR:-/tmp/ktrack-slurm}"
CONF="$DIR/slurm.conf"
ETC_CONF=/etc/slurm/slurm.conf
PARTITION="${KTRACK_SLURM_PARTITION:-debug}"
PROG="slurm-local.sh"

say() { printf '  %-7s %s\n' "$1" "$2"; }
die() {  # the reason also goes to up.log, where the tests that need the cluster read why they skip
	echo "$PROG: error: $*" >&2
	mkdir -p "$DIR" 2>/dev/null && echo "$PROG: error: $*" >>"$DIR/up.log" || true
	exit 1
}

pid_alive() {  # pid_alive FILE: the PID in FILE runs
	local pid
	[[ -s "$1" ]] || return 1
	pid=$(<"$1")
	[[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

have_slurm() {
	command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
		&& [[ -x /usr/sbin/munged ]]
}

install_slurm() {
	have_slurm && return 0
	[[ $(id -u) -eq 0 ]] || die "Slurm is not installed; run this as root to install it (apt-get)"
	command -v apt-get >/dev/null || die "Slurm is not installed and there is no apt-get; install slurmctld, slurmd, slurm-client and munge"
	say APT "slurmctld slurmd slurm-client munge"
	local pkgs=(slurmctld slurmd slurm-client munge)
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" \
		>"$DIR/apt.log" 2>&1; then
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >>"$DIR/apt.log" 2>&1 || true
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" \
			>>"$DIR/apt.log" 2>&1 || die "apt-get could not install Slurm (see $DIR/apt.log)"
	fi
	have_slurm || die "Slurm was installed but slurmctld/slurmd/munged are still missing (see $DIR/apt.log)"
}

munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
	if munge_works; then
		return 0
	fi
	if [[ ! -s /etc/munge/munge.key ]]; then
		say MUNGE "new key /etc/munge/munge.key"
		if command -v mungekey >/dev/null; then
			mungekey --create --force >/dev/null
		else
			dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
		fi
		chown munge:munge /etc/munge/munge.key
		chmod 0400 /etc/munge/munge.key
	fi
	mkdir -p /run/munge /var/log/munge /var/lib/munge
	chown munge:munge /run/munge /var/log/munge /var/lib/munge
	say START munged
	runuser -u munge -- /usr/sbin/munged --force
	local _
	for _ in $(seq 100); do
		if munge_works; then
			cp /run/munge/munged.pid "$DIR/munged.pid" 2>/dev/null || true
			return 0
		fi
		sleep 0.1
	done
	die "munged did not start (see /var/log/munge/munged.log)"
}

write_conf() {
	local host cpus mem_mb
	host=$(hostname -s)
	cpus=$(nproc)
	mem_mb=$(awk '/^MemAvailable:/ { printf "%d", $2 * 0.9 / 1024 }' /proc/meminfo)
	mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
	cat >"$CONF.tmp" <<EOF
# One-node cluster written by scripts/slurm-local.sh (ktrack); see docs/sweeps.md.
ClusterName=ktrack
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# a requeued job waits cred_expire seconds before it starts again (default 120)
AuthInfo=cred_expire=20
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
KillWait=10
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=60
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/%n
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
	mv "$CONF.tmp" "$CONF"
	if [[ ! -e "$ETC_CONF" && ! -L "$ETC_CONF" ]]; then
		mkdir -p "$(dirname "$ETC_CONF")"
		ln -s "$CONF" "$ETC_CONF"
		echo "$ETC_CONF" >"$DIR/etc-link"
	fi
}

node_state() { SLURM_CONF="$CONF" sinfo -h -o %T 2>/dev/null | head -n 1 || true; }

wait_idle() {
	local state="" _
	for _ in $(seq 120); do
		state=$(node_state)
		case "$state" in
			idle | mixed | allocated) return 0 ;;
			down* | drain*)
				SLURM_CONF="$CONF" scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true ;;
		esac
		sleep 0.5
	done
	die "the node is '${state:-unknown}' after 60 s, not idle (see $DIR/log/slurmctld.log and $DIR/log/slurmd.log)"
}

up() {
	mkdir -p "$DIR"
	if pid_alive "$DIR/slurmctld.pid" && pid_alive "$DIR/slurmd.pid"; then
		wait_idle
		say UP "already running (SLURM_CONF=$CONF)"
		return 0
	fi
	install_slurm
	[[ $(id -u) -eq 0 ]] || die "starting munged, slurmctld and slurmd needs root"
	start_munge
	write_conf
	rm -rf "$DIR/state" && mkdir -p "$DIR/state"  # a fresh cluster: no jobs left from an earlier one
	say START "slurmctld, slurmd ($(hostname -s), 127.0.0.1, $(nproc) CPUs)"
	slurmctld -f "$CONF" -c
	slurmd -f "$CONF"
	wait_idle
	say UP "partition $PARTITION is idle (SLURM_CONF=$CONF)"
	echo "up: partition $PARTITION on $(hostname -s)" >>"$DIR/up.log"
}

stop_pid() {  # stop_pid NAME FILE
	local pid _
	pid_alive "$2" || { rm -f "$2"; return 0; }
	pid=$(<"$2")
	say STOP "$1 (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || { rm -f "$2"; return 0; }
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$2"
}

down() {
	if pid_alive "$DIR/slurmctld.pid"; then
		SLURM_CONF="$CONF" scancel --full --quiet --partition="$PARTITION" 2>/dev/null || true
	fi
	stop_pid slurmd "$DIR/slurmd.pid"
	stop_pid slurmctld "$DIR/slurmctld.pid"
	stop_pid munged "$DIR/munged.pid"
	if [[ -s "$DIR/etc-link" && -L "$ETC_CONF" && "$(readlink "$ETC_CONF")" == "$CONF" ]]; then
		rm -f "$ETC_CONF" "$DIR/etc-link"
	fi
	say DOWN "$DIR"
}

status() {
	local name up=0
	for name in slurmctld slurmd munged; do
		if pid_alive "$DIR/$name.pid"; then
			say RUNNING "$name (pid $(<"$DIR/$name.pid"))"
		else
			say STOPPED "$name"
		fi
	done
	if pid_alive "$DIR/slurmctld.pid" && pid_alive "$DIR/slurmd.pid"; then
		local state
		state=$(node_state)
		say NODE "$(hostname -s): ${state:-unknown}"
		[[ "$state" =~ ^(idle|mixed|allocated|completing)$ ]] && up=1
	fi
	echo "SLURM_CONF=$CONF"
	[[ $up -eq 1 ]]
}

case "${1:-}" in
	up) up ;;
	down) down ;;
	status) status ;;
	*) echo "usage: $PROG up|down|status" >&2; exit 2 ;;
esac
