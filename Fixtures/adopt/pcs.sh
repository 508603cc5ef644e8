#!/bin/bash
# Configures the CIB file $1 with real pcs, one construct of each kind the spec must carry (AdoptCorpusTests):
# properties, a primitive with params, meta and ops, a group, promotable and plain clones, a bundle, a stonith
# device, locations by score and by rules (date and attribute expressions, score-attribute), orders and
# colocations plain and with sets (require-all, sequential), tickets plain and with sets, resource and
# operation defaults with rules and scores, ACL roles, users and groups, a tag, an alert with a recipient,
# fencing levels by node, pattern and attribute.
set -euo pipefail
P=(pcs -f "$1")
"${P[@]}" property set stonith-enabled=false no-quorum-policy=ignore
"${P[@]}" resource create d1 ocf:pacemaker:Dummy fake=1 op monitor interval=10s timeout=20s meta resource-stickiness=50
"${P[@]}" resource create d2 ocf:pacemaker:Dummy
"${P[@]}" resource create d3 ocf:pacemaker:Dummy --group g1
"${P[@]}" resource create d4 ocf:pacemaker:Dummy --group g1
"${P[@]}" resource create s1 ocf:pacemaker:Stateful promotable notify=true
"${P[@]}" resource create c1 ocf:pacemaker:Dummy clone interleave=true
"${P[@]}" resource bundle create b1 container docker image=pcmk:http network control-port=3121 port-map port=80 \
    storage-map source-dir=/srv target-dir=/srv
"${P[@]}" stonith create f1 fence_dummy pcmk_host_list="node1 node2"
"${P[@]}" constraint location d1 prefers node1=100
"${P[@]}" constraint location d2 rule score=-INFINITY date gt 2026-01-01 and '#uname' eq node2
"${P[@]}" constraint location d2 rule score-attribute=pingd defined pingd
"${P[@]}" constraint order start d1 then promote s1-clone kind=Optional
"${P[@]}" constraint colocation add d2 with Promoted s1-clone 200
"${P[@]}" constraint order set d1 d2 sequential=false require-all=false setoptions kind=Optional id=oset
"${P[@]}" constraint colocation set d3 d4 role=Started setoptions score=10 id=cset
"${P[@]}" constraint ticket add T d1 loss-policy=stop
"${P[@]}" constraint ticket set d2 c1-clone setoptions ticket=T2 loss-policy=demote
"${P[@]}" constraint location b1 prefers node2
"${P[@]}" resource defaults set create id=dummy-defaults score=10 meta is-managed=false rule resource ocf:pacemaker:Dummy
"${P[@]}" resource defaults update resource-stickiness=100
"${P[@]}" resource op defaults update timeout=30s
"${P[@]}" resource op defaults set create id=mon-defaults meta timeout=60s rule op monitor interval=10s
"${P[@]}" acl role create r1 description="read only" read xpath //nodes
"${P[@]}" acl user create u1 r1
"${P[@]}" acl group create grp1 r1
"${P[@]}" tag create t1 d1 d2
"${P[@]}" alert create path=/usr/bin/true id=a1 description=test options opt=1 meta timeout=10s
"${P[@]}" alert recipient add a1 value=/tmp/x id=a1-r1 options o=2
"${P[@]}" stonith level add 1 node1 f1 --force
"${P[@]}" stonith level add 2 'regexp%node.*' f1
"${P[@]}" stonith level add 3 attrib%dc=1 f1
"${P[@]}" property set --force cluster-recheck-interval=5min
