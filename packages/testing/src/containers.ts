import { GenericContainer, type StartedTestContainer, Wait } from "testcontainers";
import type { StackEnv, StackService } from "./stack";

/** The docker-compose images, started by testcontainers on the same host ports as the native stack. */
const started = new Map<StackService, StartedTestContainer>();

export async function startContainerStack(): Promise<StackEnv> {
  const kafka = await new GenericContainer("apache/kafka:4.4.0")
    .withExposedPorts({ container: 19092, host: 19092 })
    .withEnvironment({
      KAFKA_NODE_ID: "1",
      KAFKA_PROCESS_ROLES: "broker,controller",
      KAFKA_LISTENERS: "PLAINTEXT://0.0.0.0:19092,CONTROLLER://0.0.0.0:19093",
      KAFKA_ADVERTISED_LISTENERS: "PLAINTEXT://127.0.0.1:19092",
      KAFKA_CONTROLLER_LISTENER_NAMES: "CONTROLLER",
      KAFKA_CONTROLLER_QUORUM_VOTERS: "1@localhost:19093",
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: "1",
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: "1",
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: "1",
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: "0",
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: "false",
    })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .start();
  const clickhouse = await new GenericContainer("clickhouse/clickhouse-server:25.8")
    .withExposedPorts({ container: 8123, host: 18123 })
    .withEnvironment({ CLICKHOUSE_SKIP_USER_SETUP: "1" })
    .withWaitStrategy(Wait.forHttp("/ping", 8123))
    .start();
  const redis = await new GenericContainer("redis:7")
    .withExposedPorts({ container: 6379, host: 16379 })
    .withCommand(["redis-server", "--appendonly", "yes"])
    .start();
  started.set("kafka", kafka).set("clickhouse", clickhouse).set("redis", redis);
  return {
    mode: "docker",
    KAFKA_BROKERS: "127.0.0.1:19092",
    CLICKHOUSE_URL: "http://127.0.0.1:18123",
    REDIS_URL: "redis://127.0.0.1:16379",
  };
}

export async function stopContainerStack(): Promise<void> {
  await Promise.all([...started.values()].map((c) => c.stop()));
  started.clear();
}
