package io.mqtstream.embedded;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.metadata.storage.Formatter;
import org.apache.kafka.server.common.Feature;
import org.apache.kafka.server.common.MetadataVersion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real, single-node Apache Kafka broker in KRaft mode (combined broker and controller) running
 * inside this JVM: bound to 127.0.0.1 on free ports, its data in a temporary folder deleted on
 * {@link #close()}. It is what {@code demo} and the integration tests use; production points the
 * engine at an external cluster through configuration instead.
 *
 * <p>With one node the internal topics (consumer offsets, transaction state) must have replication
 * factor 1 and min ISR 1, or consumer groups and transactions hang; this class sets them.
 */
public final class EmbeddedKafka implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(EmbeddedKafka.class);
  private static final int NODE_ID = 1;
  private static final int PORT_ATTEMPTS = 5;

  private volatile KafkaRaftServer server;
  private final Map<String, String> properties;
  private final Path dataDir;
  private final String bootstrapServers;
  private final String securedBootstrapServers;

  private EmbeddedKafka(
      KafkaRaftServer server,
      Map<String, String> properties,
      Path dataDir,
      String bootstrapServers,
      String secured) {
    this.server = server;
    this.properties = Map.copyOf(properties);
    this.dataDir = dataDir;
    this.bootstrapServers = bootstrapServers;
    this.securedBootstrapServers = secured;
  }

  /**
   * A second client listener, {@code SASL_SSL} with SCRAM-SHA-256, beside the plaintext one (which
   * stays for administration, e.g. creating SCRAM users with {@link #admin()}).
   *
   * @param keyStore PKCS12 key store with the broker's key and certificate
   * @param password the key store's (and key's) password
   */
  public record SaslSsl(Path keyStore, String password) {}

  /** Formats a fresh log directory and starts the broker; returns once it accepts clients. */
  public static EmbeddedKafka start() {
    return start(Map.of());
  }

  /**
   * Starts a broker with extra broker properties (they override the defaults here).
   *
   * @throws IllegalStateException if the broker could not start
   */
  public static EmbeddedKafka start(Map<String, String> overrides) {
    return start(overrides, null);
  }

  /** Starts a broker with a {@code SASL_SSL} listener too ({@link #securedBootstrapServers()}). */
  public static EmbeddedKafka startSecured(SaslSsl secured) {
    return start(Map.of(), secured);
  }

  private static EmbeddedKafka start(Map<String, String> overrides, SaslSsl secured) {
    long t0 = System.nanoTime();
    RuntimeException last = null;
    for (int attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
      Path dir = null;
      try {
        dir = Files.createTempDirectory("mqt-kafka-");
        int brokerPort = freePort();
        int controllerPort = freePort();
        Map<String, String> props = brokerProperties(dir, brokerPort, controllerPort);
        String securedAddress = null;
        if (secured != null) {
          int securedPort = freePort();
          securedAddress = "127.0.0.1:" + securedPort;
          addSaslSsl(props, secured, brokerPort, controllerPort, securedPort);
        }
        props.putAll(overrides);
        format(props, dir);
        KafkaRaftServer server = new KafkaRaftServer(new KafkaConfig(props, false), Time.SYSTEM);
        server.startup();
        EmbeddedKafka kafka =
            new EmbeddedKafka(server, props, dir, "127.0.0.1:" + brokerPort, securedAddress);
        kafka.awaitReady();
        log.info(
            "Embedded Kafka (KRaft) at {} started in {} ms, data in {}",
            kafka.bootstrapServers,
            TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0),
            dir);
        return kafka;
      } catch (Exception e) {
        // Most likely a port taken between probing and binding: try again with new ports.
        last = new IllegalStateException("embedded Kafka failed to start: " + e.getMessage(), e);
        log.warn("Embedded Kafka start attempt {} failed: {}", attempt, e.toString());
        deleteQuietly(dir);
      }
    }
    throw last;
  }

  private static Map<String, String> brokerProperties(
      Path dir, int brokerPort, int controllerPort) {
    Map<String, String> p = new HashMap<>();
    p.put("process.roles", "broker,controller");
    p.put("node.id", Integer.toString(NODE_ID));
    p.put("controller.quorum.voters", NODE_ID + "@127.0.0.1:" + controllerPort);
    p.put(
        "listeners",
        "PLAINTEXT://127.0.0.1:" + brokerPort + ",CONTROLLER://127.0.0.1:" + controllerPort);
    p.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + brokerPort);
    p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
    p.put("controller.listener.names", "CONTROLLER");
    p.put("inter.broker.listener.name", "PLAINTEXT");
    p.put("log.dirs", dir.resolve("data").toString());
    p.put("metadata.log.dir", dir.resolve("data").toString());
    p.put("offsets.topic.replication.factor", "1");
    p.put("offsets.topic.num.partitions", "4");
    p.put("transaction.state.log.replication.factor", "1");
    p.put("transaction.state.log.min.isr", "1");
    p.put("transaction.state.log.num.partitions", "4");
    p.put("share.coordinator.state.topic.replication.factor", "1");
    p.put("share.coordinator.state.topic.min.isr", "1");
    p.put("group.initial.rebalance.delay.ms", "0");
    p.put("num.partitions", "1");
    p.put("auto.create.topics.enable", "false");
    p.put("log.flush.interval.messages", Long.toString(Long.MAX_VALUE));
    p.put("num.network.threads", "2");
    p.put("num.io.threads", "2");
    return p;
  }

  private static void addSaslSsl(
      Map<String, String> p, SaslSsl s, int brokerPort, int controllerPort, int securedPort) {
    p.put(
        "listeners",
        "PLAINTEXT://127.0.0.1:"
            + brokerPort
            + ",SASL_SSL://127.0.0.1:"
            + securedPort
            + ",CONTROLLER://127.0.0.1:"
            + controllerPort);
    p.put(
        "advertised.listeners",
        "PLAINTEXT://127.0.0.1:" + brokerPort + ",SASL_SSL://127.0.0.1:" + securedPort);
    p.put(
        "listener.security.protocol.map",
        "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT");
    p.put("sasl.enabled.mechanisms", "SCRAM-SHA-256");
    p.put(
        "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config",
        "org.apache.kafka.common.security.scram.ScramLoginModule required;");
    p.put("ssl.keystore.type", "PKCS12");
    p.put("ssl.keystore.location", s.keyStore().toString());
    p.put("ssl.keystore.password", s.password());
    p.put("ssl.key.password", s.password());
  }

  private static void format(Map<String, String> props, Path dir) throws Exception {
    String data = props.get("log.dirs");
    new Formatter()
        .setPrintStream(new PrintStream(OutputStream.nullOutputStream()))
        .setNodeId(NODE_ID)
        .setClusterId(Uuid.randomUuid().toString())
        .setDirectories(List.of(data))
        .setMetadataLogDirectory(data)
        .setReleaseVersion(MetadataVersion.latestProduction())
        .setSupportedFeatures(Feature.PRODUCTION_FEATURES)
        .setControllerListenerName("CONTROLLER")
        .run();
  }

  private void awaitReady() throws ExecutionException, InterruptedException {
    try (Admin admin = admin()) {
      admin.describeCluster().nodes().get();
    }
  }

  /** {@code host:port} of the broker's client listener. */
  public String bootstrapServers() {
    return bootstrapServers;
  }

  /** {@code host:port} of the {@code SASL_SSL} listener of a broker started secured. */
  public String securedBootstrapServers() {
    if (securedBootstrapServers == null) {
      throw new IllegalStateException("this broker was not started with a SASL_SSL listener");
    }
    return securedBootstrapServers;
  }

  /** Client properties that reach this broker; add your own on top. */
  public Map<String, Object> clientProperties() {
    Map<String, Object> props = new HashMap<>();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    return props;
  }

  /** A new admin client for this broker; the caller closes it. */
  public Admin admin() {
    Properties props = new Properties();
    props.putAll(clientProperties());
    return Admin.create(props);
  }

  /** Creates a topic with the given partitions (replication factor 1); an existing one is kept. */
  public void createTopic(String name, int partitions) {
    createTopic(name, partitions, Map.of());
  }

  /** Creates a topic with the given partitions and topic configs (e.g. compaction). */
  public void createTopic(String name, int partitions, Map<String, String> configs) {
    try (Admin admin = admin()) {
      admin
          .createTopics(List.of(new NewTopic(name, partitions, (short) 1).configs(configs)))
          .all()
          .get();
    } catch (ExecutionException e) {
      if (!(e.getCause() instanceof TopicExistsException)) {
        throw new IllegalStateException("could not create topic " + name, e.getCause());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted creating topic " + name, e);
    }
  }

  /** Names of the topics that exist now, internal ones excluded. */
  public Set<String> topics() {
    try (Admin admin = admin()) {
      return admin.listTopics().names().get().stream().collect(Collectors.toSet());
    } catch (ExecutionException | InterruptedException e) {
      throw new IllegalStateException("could not list topics", e);
    }
  }

  /** Stops the broker and deletes its data. */
  @Override
  public void close() {
    try {
      server.shutdown();
      server.awaitShutdown();
    } finally {
      deleteQuietly(dataDir);
    }
  }

  /**
   * Stops the broker as a crash or a rolling restart would (clients see it gone), keeps it down for
   * {@code down}, then starts it again on the same ports with the same data: committed offsets,
   * topics and records survive.
   */
  public void restart(Duration down) throws InterruptedException {
    server.shutdown();
    server.awaitShutdown();
    Thread.sleep(down.toMillis()); // the outage itself is what is being simulated
    KafkaRaftServer again = new KafkaRaftServer(new KafkaConfig(properties, false), Time.SYSTEM);
    again.startup();
    server = again;
    try {
      awaitReady();
    } catch (ExecutionException e) {
      throw new IllegalStateException("embedded Kafka did not come back: " + e.getMessage(), e);
    }
    log.info("Embedded Kafka at {} restarted after {} ms down", bootstrapServers, down.toMillis());
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      socket.setReuseAddress(true);
      return socket.getLocalPort();
    }
  }

  private static void deleteQuietly(Path dir) {
    if (dir == null || !Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      log.warn("could not delete {}: {}", dir, e.toString());
    }
  }
}
