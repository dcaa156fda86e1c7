#!/usr/bin/env bash
# A Slurm cluster of KTRACK_SLURM_NODES nodes (default 2) on 127.0.0.1, for trying and testing
# ktrack's Slurm path, multi-node jobs included.
#
#   scripts/slurm-local.sh up       install Slurm and munge when missing (root, apt-get),
#                                   start munged, slurmctld and one slurmd per node; wait until
#                                   every node is idle
#   scripts/slurm-local.sh status   say what runs; exit 0 when the cluster takes jobs
#   scripts/slurm-local.sh down     stop what `up` started, by PID
#
# The nodes node1, node2, ... are one slurmd each on this machine (`slurmd -N <node>`, a Port= per
# node in slurm.conf, %n in the spool, PID and log file names), all sharing its CPUs; a job sees
# its node's name in SLURMD_NODENAME. Everything lives in a scratch folder (KTRACK_SLURM_DIR,
# default /tmp/ktrack-slurm): slurm.conf, state, spool, PID and log files. When /etc/slurm/slurm.conf does not
# exist it is linked to the scratch one, so plain sbatch/srun/squeue find the
# cluster; otherwise export SLURM_CONF=<scratch>/slurm.conf (status prints it).
set -euo pipefail

DIR="${KTRACK_SLURM_DIR:-/tmp/ktrack-slurm}"
CONF="$DIR/slurm.conf"
ETC_CONF=/etc/slurm/slurm.conf
PARTITION="${KTRACK_SLURM_PARTITION:-debug}"
NODES="${KTRACK_SLURM_NODES:-2}"
SLURMD_PORT=6818  # node i listens on SLURMD_PORT + i - 1 (6818 is Slurm's default slurmd port)
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

node_names() { seq -f 'node%g' 1 "$NODES"; }  # the nodes `up` configures

conf_nodes() {  # the nodes the written slurm.conf has (`status` and `down` go by these)
	sed -n 's/^NodeName=\([^ ]*\) .*/\1/p' "$CONF" 2>/dev/null || true
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
	local host cpus mem_mb i
	host=$(hostname -s)
	cpus=$(nproc)
	# the nodes share this machine's memory: each is given its share, so no job is promised more than there is
	mem_mb=$(awk -v n="$NODES" '/^MemAvailable:/ { printf "%d", $2 * 0.9 / 1024 / n }' /proc/meminfo)
	mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
	{
		cat <<EOF
# A $NODES-node cluster on one machine, written by scripts/slurm-local.sh (ktrack); see docs/sweeps.md.
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
# %n: the node's name, so that the slurmd of each node has its own files
SlurmdSpoolDir=$DIR/spool/%n
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd-%n.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd-%n.log
EOF
		for i in $(seq "$NODES"); do
			echo "NodeName=node$i NodeHostname=$host NodeAddr=127.0.0.1 Port=$((SLURMD_PORT + i - 1))" \
				"CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN"
		done
		echo "PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
	} >"$CONF.tmp"
	mv "$CONF.tmp" "$CONF"
	if [[ ! -e "$ETC_CONF" && ! -L "$ETC_CONF" ]]; then
		mkdir -p "$(dirname "$ETC_CONF")"
		ln -s "$CONF" "$ETC_CONF"
		echo "$ETC_CONF" >"$DIR/etc-link"
	fi
}

node_states() {  # "node state" per line, for every node slurmctld knows
	SLURM_CONF="$CONF" sinfo -h -N -o '%N %T' 2>/dev/null || true
}

all_take_jobs() {  # all_take_jobs STATES: every node of slurm.conf is idle, mixed, allocated or completing
	local node state n=0 want
	want=$(conf_nodes | wc -l)
	while read -r node state; do
		[[ -n "$node" ]] || continue
		[[ "$state" =~ ^(idle|mixed|allocated|completing)$ ]] || return 1
		n=$((n + 1))
	done <<<"$1"
	[[ $n -gt 0 && $n -eq $want ]]
}

wait_idle() {
	local states="" node state _
	for _ in $(seq 120); do
		states=$(node_states)
		all_take_jobs "$states" && return 0
		while read -r node state; do
			case "$state" in
				down* | drain*)
					SLURM_CONF="$CONF" scontrol update nodename="$node" state=resume >/dev/null 2>&1 || true ;;
			esac
		done <<<"$states"
		sleep 0.5
	done
	die "not every node is idle after 60 s (${states//$'\n'/, }; see $DIR/log/slurmctld.log and $DIR/log/slurmd-*.log)"
}

daemons_alive() {  # slurmctld and the slurmd of every node of slurm.conf run
	local node
	pid_alive "$DIR/slurmctld.pid" || return 1
	[[ -n "$(conf_nodes)" ]] || return 1
	for node in $(conf_nodes); do
		pid_alive "$DIR/slurmd-$node.pid" || return 1
	done
}

up() {
	mkdir -p "$DIR"
	[[ "$NODES" =~ ^[1-9][0-9]?$ ]] || die "KTRACK_SLURM_NODES=$NODES: give a number of nodes from 1 to 99"
	if daemons_alive && [[ "$(conf_nodes)" == "$(node_names)" ]]; then
		wait_idle
		say UP "already running, $NODES node(s) (SLURM_CONF=$CONF)"
		return 0
	fi
	install_slurm
	[[ $(id -u) -eq 0 ]] || die "starting munged, slurmctld and slurmd needs root"
	stop_slurm  # a half-started cluster, or one of another size, is started afresh
	start_munge
	write_conf
	rm -rf "$DIR/state" && mkdir -p "$DIR/state"  # a fresh cluster: no jobs left from an earlier one
	say START "slurmctld, slurmd x $NODES ($(node_names | paste -sd ' ') on $(hostname -s), 127.0.0.1, $(nproc) CPUs each)"
	slurmctld -f "$CONF" -c
	local node
	for node in $(node_names); do
		slurmd -f "$CONF" -N "$node" || die "slurmd -N $node did not start (see $DIR/log/slurmd-$node.log)"
	done
	wait_idle
	say UP "partition $PARTITION: $(node_names | paste -sd ' ') idle (SLURM_CONF=$CONF)"
	echo "up: partition $PARTITION, $NODES node(s) on $(hostname -s)" >>"$DIR/up.log"
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

stop_slurm() {  # every slurmd (whatever nodes it ran for) and slurmctld
	local file
	for file in "$DIR"/slurmd*.pid; do
		[[ -e "$file" ]] || continue
		stop_pid "$(basename "$file" .pid)" "$file"
	done
	stop_pid slurmctld "$DIR/slurmctld.pid"
}

down() {
	if pid_alive "$DIR/slurmctld.pid"; then
		SLURM_CONF="$CONF" scancel --full --quiet --partition="$PARTITION" 2>/dev/null || true
	fi
	stop_slurm
	stop_pid munged "$DIR/munged.pid"
	if [[ -s "$DIR/etc-link" && -L "$ETC_CONF" && "$(readlink "$ETC_CONF")" == "$CONF" ]]; then
		rm -f "$ETC_CONF" "$DIR/etc-link"
	fi
	say DOWN "$DIR"
}

status() {
	local node state file
	if pid_alive "$DIR/slurmctld.pid"; then
		say RUNNING "slurmctld (pid $(<"$DIR/slurmctld.pid"))"
	else
		say STOPPED slurmctld
	fi
	for node in $(conf_nodes); do
		file="$DIR/slurmd-$node.pid"
		if pid_alive "$file"; then
			say RUNNING "slurmd -N $node (pid $(<"$file"))"
		else
			say STOPPED "slurmd -N $node"
		fi
	done
	if pid_alive "$DIR/munged.pid"; then
		say RUNNING "munged (pid $(<"$DIR/munged.pid"))"
	elif munge_works; then
		say RUNNING "munged (not started here)"
	else
		say STOPPED munged
	fi
	local states=""
	if daemons_alive; then
		states=$(node_states)
		while read -r node state; do
			[[ -n "$node" ]] && say NODE "$node: $state"
		done <<<"$states"
	fi
	echo "SLURM_CONF=$CONF"
	daemons_alive && all_take_jobs "$states"
}

case "${1:-}" in
	up) up ;;
	down) down ;;
	status) status ;;
	*) echo "usage: $PROG up|down|status" >&2; exit 2 ;;
esac
