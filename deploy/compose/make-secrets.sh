#!/bin/sh
# Writes the stack's secrets under ./secrets (mode 600, never committed): random passwords and keys, the
# PostgreSQL URL, NATS users, the SeaweedFS S3 identity and the agent configs with their MQTT password.
# The folder is private (700); the files are 644 because Compose bind-mounts file secrets with their host mode
# and the services run as non-root users. Existing files are kept, so rerunning never rotates a secret by accident. usage: ./make-secrets.sh [dir]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$here/secrets}
mkdir -p "$dir"
chmod 700 "$dir"
umask 022
rand() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
keep() { [ -s "$dir/$1" ]; }
keep postgres_password || rand 24 > "$dir/postgres_password"
keep jwt_secret || rand 32 > "$dir/jwt_secret"
keep admin_password || rand 12 > "$dir/admin_password"
keep mqtt_control_plane_password || rand 24 > "$dir/mqtt_control_plane_password"
keep mqtt_agent_password || rand 24 > "$dir/mqtt_agent_password"
keep s3_access_key_id || echo "diad$(rand 8)" > "$dir/s3_access_key_id"
keep s3_secret_access_key || rand 24 > "$dir/s3_secret_access_key"
keep agent_frame_token || rand 24 > "$dir/agent_frame_token"
keep agent_enrol_token || echo "replace-with-an-enrolment-token-from-the-control-plane" > "$dir/agent_enrol_token"
pg=$(cat "$dir/postgres_password")
keep database_url || echo "postgresql://diad:$pg@postgres:5432/diad" > "$dir/database_url"
cp_pw=$(cat "$dir/mqtt_control_plane_password")
agent_pw=$(cat "$dir/mqtt_agent_password")
frame_token=$(cat "$dir/agent_frame_token")
keep nats_auth.conf || cat > "$dir/nats_auth.conf" <<CONF
authorization {
  users = [
    { user: "control-plane", password: "$cp_pw" }
    { user: "agent", password: "$agent_pw" }
  ]
}
CONF
keep s3_config.json || cat > "$dir/s3_config.json" <<JSON
{"identities":[{"name":"diad","credentials":[{"accessKey":"$(cat "$dir/s3_access_key_id")","secretKey":"$(cat "$dir/s3_secret_access_key")"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
JSON
for acc in cpu cuda jetson; do
  keep "agent.$acc.yaml" || sed -e "s/@MQTT_AGENT_PASSWORD@/$agent_pw/" -e "s/@AGENT_FRAME_TOKEN@/$frame_token/" "$here/config/agent.$acc.yaml" > "$dir/agent.$acc.yaml"
done
echo "secrets in $dir"
