#!/usr/bin/env bash
# Real services for the integration suite, on loopback only: a single-node Slurm cluster
# (munge + slurmctld + slurmd) and an S3 server (Ceph: 1 monitor, 1 in-memory OSD, radosgw on
# 127.0.0.1:7480 with a bucket "pipeline-cache"). Usage: services.sh install|start|stop|env
# (stop_rgw/start_rgw: only the S3 server).
# State under $SERVICES_DIR (default /tmp/pipeline-services). `env` prints the variables the
# integration suite reads.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export SERVICES_DIR=${SERVICES_DIR:-/tmp/pipeline-services}
mkdir -p "$SERVICES_DIR"

print_env() {
  cat <<ENV
export SLURM_CONF=$SERVICES_DIR/slurm/slurm.conf
export PIPELINE_TEST_S3_ENDPOINT=http://127.0.0.1:7480
export PIPELINE_TEST_S3_BUCKET=pipeline-cache
export PIPELINE_TEST_S3_ACCESS_KEY=ci-access-key
export PIPELINE_TEST_S3_SECRET_KEY=ci-secret-key
ENV
}

case "${1:-}" in
  install)
    if ! command -v sbatch >/dev/null || ! command -v radosgw >/dev/null; then
      packages=(slurm-wlm munge ceph-mon ceph-osd radosgw curl)
      export DEBIAN_FRONTEND=noninteractive
      apt-get install -y --no-install-recommends "${packages[@]}" ||
        { apt-get update && apt-get install -y --no-install-recommends "${packages[@]}"; }
    fi ;;
  start)
    t0=$(date +%s)
    bash "$here/slurm_start.sh"
    # The OSD sometimes fails to start in a fresh directory ("wrong fsid"); a second try works.
    bash "$here/ceph_start.sh" || { bash "$here/services.sh" stop_ceph || true; bash "$here/ceph_start.sh"; }
    echo "services up in $(( $(date +%s) - t0 )) s"
    print_env > "$SERVICES_DIR/env" ;;
  stop_rgw)
    # Only the S3 server (the integration suite kills it mid-sweep and brings it back).
    . "$here/stop_pidfile.sh"
    stop_pidfile client.rgw.a "$SERVICES_DIR/ceph/run/client.rgw.a.pid" ;;
  start_rgw)
    radosgw -c "$SERVICES_DIR/ceph/ceph.conf" -n client.rgw.a
    for _ in $(seq 1 300); do
      curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:7480/ 2>/dev/null | grep -q 200 && exit 0
      sleep 0.2
    done
    echo "radosgw did not come back"; exit 1 ;;
  stop_ceph)
    . "$here/stop_pidfile.sh"
    for n in client.rgw.a osd.0 mon.a; do stop_pidfile "$n" "$SERVICES_DIR/ceph/run/$n.pid" || true; done ;;
  stop)
    . "$here/stop_pidfile.sh"
    for n in client.rgw.a osd.0 mon.a; do stop_pidfile "$n" "$SERVICES_DIR/ceph/run/$n.pid" || true; done
    stop_pidfile slurmd "$SERVICES_DIR/slurm/slurmd.pid" || true
    stop_pidfile slurmctld "$SERVICES_DIR/slurm/slurmctld.pid" || true
    stop_pidfile munged /run/munge/munged.pid || true ;;
  env) print_env ;;
  *) echo "usage: $0 install|start|stop|env"; exit 2 ;;
esac
