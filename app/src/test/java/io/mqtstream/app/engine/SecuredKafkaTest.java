package io.mqtstream.app.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.mqtstream.app.ConfigException;
import io.mqtstream.app.EngineConfig;
import io.mqtstream.embedded.EmbeddedKafka;
import io.mqtstream.loadtest.Harness;
import io.mqtstream.loadtest.Ledger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The engine, a camera and the load-test harness against a broker that only lets them in over
 * SASL_SSL (SCRAM-SHA-256, a self-signed certificate made here with the JDK's keytool), all through
 * {@code kafka.properties}; wrong credentials and an untrusted certificate fail the start with a
 * message that names the setting; the password is in no log line and not in /health.
 */
@Tag("kafka")
class SecuredKafkaTest {
  private static final String STORE_PASSWORD = "store-pass-4242";
  private static final String USER = "mqt-engine";
  private static final String PASSWORD = "scram-secret-9f3c1e";

  @TempDir static Path certs;
  private static EmbeddedKafka kafka;
  private static Path trustStore;
  private static Path strangerTrustStore;

  @BeforeAll
  static void startSecuredBroker() throws Exception {
    Path keyStore = certs.resolve("broker.p12");
    keyPair(keyStore, "broker");
    trustStore = trustStoreOf(keyStore, "trust.p12");
    Path stranger = certs.resolve("stranger.p12");
    keyPair(stranger, "stranger");
    strangerTrustStore = trustStoreOf(stranger, "stranger-trust.p12");
    kafka = EmbeddedKafka.startSecured(new EmbeddedKafka.SaslSsl(keyStore, STORE_PASSWORD));
    try (var admin = kafka.admin()) { // over the plaintext admin listener
      admin
          .alterUserScramCredentials(
              List.of(
                  new UserScramCredentialUpsertion(
                      USER, new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096), PASSWORD)))
          .all()
          .get();
    }
  }

  @AfterAll
  static void stopBroker() {
    kafka.close();
  }

  private static Path trustStoreOf(Path keyStore, String name) throws Exception {
    Path cert = certs.resolve(name + ".crt");
    String alias = keyStore.getFileName().toString().startsWith("broker") ? "broker" : "stranger";
    keytool(
        "-exportcert",
        "-alias",
        alias,
        "-keystore",
        keyStore.toString(),
        "-storepass",
        STORE_PASSWORD,
        "-rfc",
        "-file",
        cert.toString());
    Path trust = certs.resolve(name);
    keytool(
        "-importcert",
        "-noprompt",
        "-alias",
        "broker",
        "-file",
        cert.toString(),
        "-keystore",
        trust.toString(),
        "-storetype",
        "PKCS12",
        "-storepass",
        STORE_PASSWORD);
    return trust;
  }

  /** A self-signed RSA key pair for 127.0.0.1 / localhost in a new PKCS12 store. */
  private static void keyPair(Path store, String alias) throws Exception {
    keytool(
        "-genkeypair",
        "-alias",
        alias,
        "-keyalg",
        "RSA",
        "-keysize",
        "2048",
        "-validity",
        "2",
        "-dname",
        "CN=localhost",
        "-ext",
        "SAN=ip:127.0.0.1,dns:localhost",
        "-keystore",
        store.toString(),
        "-storetype",
        "PKCS12",
        "-storepass",
        STORE_PASSWORD,
        "-keypass",
        STORE_PASSWORD);
  }

  private static void keytool(String... args) throws Exception {
    List<String> cmd = new java.util.ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor()).as("keytool %s: %s", args[0], out).isZero();
  }

  /** The client properties a user puts under kafka.properties for this cluster. */
  private static Map<String, String> secured(String password, Path trust) {
    return Map.of(
        "security.protocol",
        "SASL_SSL",
        "sasl.mechanism",
        "SCRAM-SHA-256",
        "sasl.jaas.config",
        "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
            + USER
            + "\" password=\""
            + password
            + "\";",
        "ssl.truststore.location",
        trust.toString(),
        "ssl.truststore.type",
        "PKCS12",
        "ssl.truststore.password",
        STORE_PASSWORD);
  }

  private static EngineConfig config(String name, Map<String, String> properties) {
    StringBuilder props = new StringBuilder();
    properties.forEach(
        (k, v) -> props.append("    ").append(k).append(": '").append(v).append("'\n"));
    return EngineConfig.parse(
        """
        kafka:
          bootstrapServers: %1$s
          framesTopic: %2$s-frames
          answersTopic: %2$s-answers
          queriesTopic: %2$s-queries
          deadLetterTopic: %2$s-dlq
          groupId: %2$s-engine
          properties:
        %3$s
        server:
          port: 0
        """
            .formatted(kafka.securedBootstrapServers(), name, props),
        name);
  }

  private static Engine start(EngineConfig c) throws Exception {
    return Engine.start(
        c, c.kafka().bootstrapServers(), new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
  }

  @Test
  void engineCamerasAndTheLoadTestWorkOverSaslSslAndNoSecretIsLogged() throws Exception {
    Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    logs.start();
    Level level = root.getLevel();
    root.setLevel(Level.INFO);
    root.addAppender(logs);
    try {
      kafka.createTopic("sasl-frames", 2);
      EngineConfig c = config("sasl", secured(PASSWORD, trustStore));
      try (Engine engine = start(c)) {
        Map<String, Object> client = new HashMap<>(c.kafka().clientProperties(null));
        client.put("bootstrap.servers", kafka.securedBootstrapServers());
        Harness.Options o =
            new Harness.Options(
                2,
                3,
                Duration.ofSeconds(5),
                Harness.Profile.CONSTANT,
                "cam-",
                Harness.Options.synthetic(),
                c.kafka().framesTopic(),
                c.kafka().answersTopic(),
                c.kafka().groupId(),
                Duration.ofSeconds(60),
                Duration.ZERO);
        Ledger.Summary s = new Harness(client, o, r -> {}, p -> {}).run().summary();
        assertThat(s.framesSent()).isPositive();
        assertThat(s.lost()).isZero();
        assertThat(s.answers()).isGreaterThanOrEqualTo(s.framesSent());
        String health =
            HttpClient.newHttpClient()
                .send(
                    HttpRequest.newBuilder(
                            URI.create("http://localhost:" + engine.httpPort() + "/health"))
                        .build(),
                    HttpResponse.BodyHandlers.ofString())
                .body();
        assertThat(health).contains("UP").doesNotContain(PASSWORD);
      }
    } finally {
      root.detachAppender(logs);
      root.setLevel(level);
    }
    // Kafka's client threads may still be appending as the appender is detached; AppenderBase
    // appends under the appender's lock, so a copy taken under it is complete and stays still.
    java.util.List<ch.qos.logback.classic.spi.ILoggingEvent> logged;
    synchronized (logs) {
      logged = java.util.List.copyOf(logs.list);
    }
    assertThat(logged).isNotEmpty();
    assertThat(logged)
        .noneMatch(e -> e.getFormattedMessage().contains(PASSWORD))
        .noneMatch(e -> e.getFormattedMessage().contains(STORE_PASSWORD));
  }

  @Test
  void aWrongPasswordFailsTheStartNamingTheSetting() {
    EngineConfig c = config("badpass", secured("not-the-password", trustStore));
    assertThatThrownBy(() -> start(c))
        .isInstanceOfSatisfying(
            ConfigException.class, e -> assertThat(e.key()).isEqualTo("kafka.properties"))
        .hasMessageContaining("refused the credentials")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("not-the-password"));
  }

  @Test
  void anUntrustedCertificateFailsTheStartNamingTheSetting() {
    EngineConfig c = config("badcert", secured(PASSWORD, strangerTrustStore));
    assertThatThrownBy(() -> start(c))
        .isInstanceOfSatisfying(
            ConfigException.class, e -> assertThat(e.key()).isEqualTo("kafka.properties"))
        .hasMessageContaining("TLS")
        .hasMessageContaining("ssl.truststore");
  }
}
