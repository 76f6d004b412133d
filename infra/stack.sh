#!/usr/bin/env bash
# Eventline's local stack without Docker: Apache Kafka (KRaft, one combined node) and Apicurio
# Registry from Maven Central jars, plus checks of the Postgres and Redis the machine provides (started
# with the machine's own commands when they are down and configured on this host's default ports).
#
#   infra/stack.sh up        start what is not running yet (idempotent), wait until ready
#   infra/stack.sh stop [svc] stop what this script started (by pidfile), Kafka last; or one of app|kafka|registry
#   infra/stack.sh status    what runs, with pids and memory
#   infra/stack.sh reset     stop, then delete Kafka's data, the registry's and the project's databases, Redis keys
#   infra/stack.sh kafka-classpath   print the Kafka classpath (resolved through Maven once), for a test's own broker
#
# State lives in .infra/ (ignored by git): pidfiles, logs, Kafka data, the resolved classpath.
# A service that already answers on its port (started by someone else, e.g. docker compose) is
# used as it is and never stopped by this script.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE="$ROOT/.infra"
LOGS="$STATE/logs"
KAFKA_POM="$ROOT/infra/kafka/pom.xml"
KAFKA_PORT=9092
CONTROLLER_PORT=9093
REGISTRY_PORT=8081
REGISTRY_MGMT_PORT=9081
MVN_DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
KAFKA_HEAP=${EVENTLINE_KAFKA_HEAP:-768m}
REGISTRY_HEAP=${EVENTLINE_REGISTRY_HEAP:-384m}

mkdir -p "$STATE" "$LOGS"

say() { printf 'stack: %s\n' "$*" >&2; }
die() { printf 'stack: error: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

java_major() { # java binary -> major version number
  "$1" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2; exit}' | cut -d. -f1
}

require_tools() {
  command -v java >/dev/null || die "java is not installed (Java 17+ is needed for Kafka): apt-get install openjdk-17-jre-headless"
  command -v mvn >/dev/null || die "mvn is not installed (it fetches Kafka and the registry from Maven Central): apt-get install maven"
  local major; major=$(java_major java)
  [ "${major:-0}" -ge 17 ] || die "java is version $major; Kafka 4.x needs Java 17+"
}

# ---------------------------------------------------------------- the machine's Postgres and Redis
# They belong to the machine, not to Eventline: when the configured URL is this host's default port
# and nothing answers there, start the machine's own service (Debian's pg_ctlcluster, redis-server)
# rather than fail, and leave it running afterwards, as the machine runs it. Anything else (another
# host or port, no such command) is only checked, with a hint, by infra/check.ts services.
local_url() { # url default-port -> true when it points at this host's default port
  [[ "$1" =~ ^[a-z]+://([^@/]*@)?(127\.0\.0\.1|localhost)(:$2)?(/.*)?$ ]]
}

wait_port() { # port seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do port_open "$1" && return 0; sleep 0.1; done
  return 1
}

local_services_up() {
  if local_url "${DATABASE_URL:-postgres://127.0.0.1:5432}" 5432 && ! port_open 5432 && command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    local version
    for version in $(ls /etc/postgresql); do
      [ -d "/etc/postgresql/$version/main" ] || continue
      say "postgres: nothing answers on 127.0.0.1:5432; starting the machine's cluster $version/main"
      pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || say "postgres: pg_ctlcluster $version main start failed"
    done
    wait_port 5432 30 || say "postgres: still not answering on 5432 after 30 s"
  fi
  if local_url "${REDIS_URL:-redis://127.0.0.1:6379}" 6379 && ! port_open 6379 && command -v redis-server >/dev/null; then
    say "redis: nothing answers on 127.0.0.1:6379; starting the machine's redis-server (no persistence)"
    local dir=/var/lib/redis logfile=/var/log/redis/eventline.log
    [ -w "$dir" ] || dir="$STATE"
    [ -w "$(dirname "$logfile")" ] || logfile="$LOGS/redis.log"
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir "$dir" --logfile "$logfile" >&2 \
      || say "redis: redis-server failed to start"
    wait_port 6379 30 || say "redis: still not answering on 6379 after 30 s"
  fi
}

# ---------------------------------------------------------------- Kafka
kafka_classpath() {
  local sum; sum=$(sha256sum "$KAFKA_POM" | cut -c1-16)
  local cp="$STATE/kafka-$sum.classpath"
  if [ ! -s "$cp" ]; then
    say "resolving Kafka from Maven Central (cached in ~/.m2 after the first run)"
    mvn -q -B -f "$KAFKA_POM" "$MVN_DEP_PLUGIN:build-classpath" -Dmdep.outputFile="$cp.tmp" >"$LOGS/maven-kafka.log" 2>&1 \
      || die "could not resolve Kafka with Maven; see $LOGS/maven-kafka.log"
    mv "$cp.tmp" "$cp"
  fi
  cat "$cp"
}

kafka_up() {
  local pidfile="$STATE/kafka.pid"
  if pid_alive "$pidfile"; then say "kafka already running (pid $(cat "$pidfile"))"; return; fi
  if port_open $KAFKA_PORT; then say "kafka: something already listens on 127.0.0.1:$KAFKA_PORT; using it"; return; fi
  port_open $CONTROLLER_PORT && die "port $CONTROLLER_PORT (KRaft controller) is taken by another process"
  local cp; cp=$(kafka_classpath)
  local dir="$STATE/kafka"
  mkdir -p "$dir/data"
  {
    cat "$ROOT/infra/kafka/server.properties"
    echo "log.dirs=$dir/data"
  } >"$dir/server.properties"
  local log4j=(-Dlog4j2.configurationFile="$ROOT/infra/kafka/log4j2.properties" -Dkafka.logs.dir="$LOGS")
  if [ ! -f "$dir/data/meta.properties" ]; then
    [ -s "$dir/cluster-id" ] || java -cp "$cp" "${log4j[@]}" kafka.tools.StorageTool random-uuid >"$dir/cluster-id" 2>>"$LOGS/kafka-format.log"
    java -cp "$cp" "${log4j[@]}" kafka.tools.StorageTool format -t "$(cat "$dir/cluster-id")" -c "$dir/server.properties" --ignore-formatted \
      >>"$LOGS/kafka-format.log" 2>&1 || die "formatting Kafka storage failed; see $LOGS/kafka-format.log"
  fi
  say "starting kafka (heap $KAFKA_HEAP)"
  # setsid: the broker survives the shell that started it and gets its own process group.
  setsid java -Xms256m -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true "${log4j[@]}" \
    -cp "$cp" kafka.Kafka "$dir/server.properties" >"$LOGS/kafka.out" 2>&1 </dev/null &
  echo $! >"$pidfile"
}

# ---------------------------------------------------------------- Apicurio Registry
# 3.3.x needs Java 21+; on a machine with only Java 17 the 2.6 line (same ccompat API) is used.
find_java21() {
  local candidates=()
  [ -n "${EVENTLINE_REGISTRY_JAVA_HOME:-}" ] && candidates+=("$EVENTLINE_REGISTRY_JAVA_HOME/bin/java")
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME/bin/java")
  candidates+=("$(command -v java)")
  for d in /usr/lib/jvm/*/ /opt/java/*/ /opt/*jdk*/; do [ -x "$d/bin/java" ] && candidates+=("$d/bin/java"); done
  local best="" best_major=0 major
  for j in "${candidates[@]}"; do
    [ -x "$j" ] || continue
    major=$(java_major "$j"); major=${major:-0}
    if [ "$major" -ge 21 ] && [ "$major" -gt "$best_major" ]; then best=$j; best_major=$major; fi
  done
  echo "$best"
}

registry_up() {
  local pidfile="$STATE/registry.pid"
  if pid_alive "$pidfile"; then say "registry already running (pid $(cat "$pidfile"))"; return; fi
  if port_open $REGISTRY_PORT; then say "registry: something already listens on 127.0.0.1:$REGISTRY_PORT; using it"; return; fi
  local java version
  java=$(find_java21)
  version=${EVENTLINE_REGISTRY_VERSION:-}
  if [ -z "$version" ]; then
    if [ -n "$java" ]; then version=3.3.3; else version=2.6.13.Final; fi
  fi
  # 3.x needs Java 21+; 2.6 runs on the default Java (17).
  if [[ "$version" == 2.* ]]; then java=$(command -v java); fi
  [ -n "$java" ] || die "Apicurio Registry $version needs Java 21+: install one (e.g. temurin-21) or set EVENTLINE_REGISTRY_JAVA_HOME"
  local archive="$HOME/.m2/repository/io/apicurio/apicurio-registry-app/$version/apicurio-registry-app-$version-all.tar.gz"
  if [ ! -s "$archive" ]; then
    say "fetching Apicurio Registry $version from Maven Central (cached in ~/.m2 after the first run)"
    mvn -q -B "$MVN_DEP_PLUGIN:get" -Dartifact="io.apicurio:apicurio-registry-app:$version:tar.gz:all" -Dtransitive=false \
      >"$LOGS/maven-registry.log" 2>&1 || die "could not fetch Apicurio Registry $version; see $LOGS/maven-registry.log"
  fi
  local home="$STATE/apicurio-$version"
  if [ ! -d "$home/lib" ]; then
    rm -rf "$home.tmp" && mkdir -p "$home.tmp"
    tar -xzf "$archive" -C "$home.tmp" && mv "$home.tmp" "$home"
  fi
  local jar="$home/quarkus-run.jar"
  [ -f "$jar" ] || jar=$(ls "$home"/apicurio-registry-app-*-runner.jar 2>/dev/null | head -1)
  [ -f "$jar" ] || die "no runnable jar in $home"

  # Storage in Postgres, so schema ids survive restarts (Kafka keeps records that refer to them).
  local db_env; db_env=$(node --import tsx "$ROOT/infra/check.ts" registry-db "$version") || die "preparing the registry database failed"
  eval "$db_env"   # REGISTRY_JDBC_URL, REGISTRY_DB_USER, REGISTRY_DB_PASSWORD
  say "starting Apicurio Registry $version on $("$java" -version 2>&1 | head -1) (heap $REGISTRY_HEAP)"
  local props=(-Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port=$REGISTRY_PORT
    -Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port=$REGISTRY_MGMT_PORT)
  if [[ "$version" == 2.* ]]; then
    # 2.6 only honours its storage kind as system properties; the password stays out of `ps`.
    props+=(-Dregistry.storage.kind=sql -Dregistry.storage.db-kind=postgresql -Dregistry.datasource.url="$REGISTRY_JDBC_URL"
      -Dregistry.datasource.username="$REGISTRY_DB_USER" -Dregistry.rules.global.compatibility=BACKWARD)
    export REGISTRY_DATASOURCE_PASSWORD="$REGISTRY_DB_PASSWORD"
  else
    export APICURIO_STORAGE_KIND=sql APICURIO_STORAGE_SQL_KIND=postgresql APICURIO_DATASOURCE_URL="$REGISTRY_JDBC_URL" \
      APICURIO_DATASOURCE_USERNAME="$REGISTRY_DB_USER" APICURIO_DATASOURCE_PASSWORD="$REGISTRY_DB_PASSWORD" \
      APICURIO_RULES_GLOBAL_COMPATIBILITY=BACKWARD APICURIO_CCOMPAT_MAX_SUBJECTS=100000
  fi
  setsid "$java" -Xms128m -Xmx"$REGISTRY_HEAP" -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError "${props[@]}" -jar "$jar" \
    >"$LOGS/registry.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
}

# ---------------------------------------------------------------- stop / status
stop_pid() { # name pidfile
  local name=$1 pidfile=$2
  pid_alive "$pidfile" || { rm -f "$pidfile"; return 0; }
  local pid; pid=$(cat "$pidfile")
  say "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then say "$name did not stop in 30 s; killing it"; kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$pidfile"
}

cmd_stop() { # [app|kafka|registry]: one service, else all (app first, Kafka last)
  case "${1:-all}" in
    app) stop_pid "eventline app" "$STATE/app.pid"; stop_pid "eventline workers" "$STATE/workers.pid" ;;
    kafka) stop_pid kafka "$STATE/kafka.pid" ;;
    registry) stop_pid registry "$STATE/registry.pid" ;;
    all)
      stop_pid "eventline app" "$STATE/app.pid"
      stop_pid "eventline workers" "$STATE/workers.pid"
      stop_pid registry "$STATE/registry.pid"
      stop_pid kafka "$STATE/kafka.pid"
      ;;
    *) die "unknown service $1 (app, kafka, registry)" ;;
  esac
}

cmd_status() {
  for name in app workers kafka registry; do
    if pid_alive "$STATE/$name.pid"; then
      local pid; pid=$(cat "$STATE/$name.pid")
      printf '%-9s running  pid %-8s rss %s MiB\n' "$name" "$pid" "$(( $(ps -o rss= -p "$pid") / 1024 ))"
    else
      printf '%-9s %s\n' "$name" "not started by eventline"
    fi
  done
  for p in $KAFKA_PORT $REGISTRY_PORT 5432 6379; do
    if port_open $p; then printf 'port %-5s open\n' $p; else printf 'port %-5s closed\n' $p; fi
  done
}

cmd_up() {
  require_tools
  [ -d "$ROOT/node_modules" ] || die "node_modules is missing; run npm ci first (npm start and npm test do it)"
  local_services_up                                   # the machine's own Postgres and Redis, if they are down
  node --import tsx "$ROOT/infra/check.ts" services   # Postgres and Redis answer; the project's database exists
  kafka_up
  registry_up
  node --import tsx "$ROOT/infra/check.ts" wait
}

cmd_reset() {
  cmd_stop
  rm -rf "$STATE/kafka" "$STATE/admin.key"
  node --import tsx "$ROOT/infra/check.ts" drop-registry-db
  node --import tsx "$ROOT/infra/check.ts" drop-data
  say "Kafka data, the registry and project databases and the Redis keys are gone; 'npm start' begins from scratch"
}

case "${1:-}" in
  up) cmd_up ;;
  stop|down) cmd_stop "${2:-all}" ;;
  status) cmd_status ;;
  reset) cmd_reset ;;
  kafka-classpath) mkdir -p "$LOGS"; kafka_classpath ;;
  *) echo "usage: infra/stack.sh up|stop|status|reset|kafka-classpath" >&2; exit 2 ;;
esac
