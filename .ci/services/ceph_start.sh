#!/usr/bin/env bash
# Single-node Ceph (1 mon, 1 memstore OSD, no mgr) + radosgw S3 on 127.0.0.1:7480. Everything under $SERVICES_DIR/ceph.
set -euo pipefail
D="${SERVICES_DIR:-/tmp/pipeline-services}/ceph"; rm -rf $D/run $D/mon $D/osd $D/log; mkdir -p $D/run $D/mon/ceph-a $D/osd/ceph-0 $D/log
FSID=$(cat /proc/sys/kernel/random/uuid)
cat > $D/ceph.conf <<CONF
[global]
fsid = $FSID
mon host = v1:127.0.0.1:6789
mon initial members = a
public network = 127.0.0.0/8
cluster network = 127.0.0.0/8
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
auth supported = none
run dir = $D/run
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
pid file = $D/run/\$name.pid
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
osd crush chooseleaf type = 0
mon data = $D/mon/ceph-\$id
osd data = $D/osd/ceph-\$id
osd objectstore = memstore
memstore device bytes = 1073741824
osd max object name len = 460
osd max object namespace len = 64
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:7480
rgw data = $D/rgw
rgw dns name = localhost
CONF
export CEPH_CONF=$D/ceph.conf
monmaptool --create --clobber --addv a "[v1:127.0.0.1:6789]" --fsid $FSID $D/monmap >/dev/null
ceph-authtool --create-keyring $D/mon.keyring --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-mon -c $D/ceph.conf --mkfs -i a --monmap $D/monmap --keyring $D/mon.keyring
ceph-mon -c $D/ceph.conf -i a
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
ID=$(ceph -c $D/ceph.conf osd new $OSD_UUID)
ceph-osd -c $D/ceph.conf -i $ID --mkfs --osd-uuid $OSD_UUID >/dev/null 2>&1
ceph-osd -c $D/ceph.conf -i $ID
mkdir -p $D/rgw
radosgw -c $D/ceph.conf -n client.rgw.a
up=0
for i in $(seq 1 300); do
  if curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:7480/ 2>/dev/null | grep -q 200; then echo "rgw up after ${i}x0.2s"; up=1; break; fi
  sleep 0.2
done
[ "$up" = 1 ] || { echo "radosgw did not come up"; tail -20 $D/log/*.log; exit 1; }
radosgw-admin -c $D/ceph.conf user create --uid=ci --display-name=ci --access-key=ci-access-key --secret=ci-secret-key >/dev/null
echo "S3 endpoint http://127.0.0.1:7480 access=ci-access-key secret=ci-secret-key"
