package io.mqtstream.camera;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.mqtstream.embedded.EmbeddedKafka;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.DoubleSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * An {@code rtsp://} camera against a real RTSP server (GStreamer's, {@code
 * src/test/resources/rtsp/serve.py}; bin/test installs it) on 127.0.0.1: the server stopped and
 * started again, and a stream that stalls without closing (the server frozen with SIGSTOP). Each
 * time the camera reconnects with its backoff, counts it in {@code mqt.camera.reconnects}, and
 * frames resume.
 */
@Tag("rtsp")
class RtspCameraTest {
  private static final Path SERVER = Path.of("src/test/resources/rtsp/serve.py");
  private static EmbeddedKafka kafka;

  @BeforeAll
  static void startBroker() {
    kafka = EmbeddedKafka.start();
  }

  @AfterAll
  static void stopBroker() {
    kafka.close();
  }

  private static Process serve(int port) throws Exception {
    Process p =
        new ProcessBuilder("/usr/bin/python3", SERVER.toString(), Integer.toString(port))
            .redirectErrorStream(true)
            .start();
    BufferedReader out =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    String line = out.readLine(); // blocks until the server listens or dies
    assertThat(line)
        .as("RTSP server (python3-gi, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good)")
        .isEqualTo("ready");
    return p;
  }

  private static void signal(Process p, String sig) throws Exception {
    assertThat(new ProcessBuilder("kill", "-" + sig, Long.toString(p.pid())).start().waitFor())
        .isZero();
  }

  private static void await(DoubleSupplier value, double atLeast, String what) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (value.getAsDouble() < atLeast) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(what + ": " + value.getAsDouble() + " < " + atLeast);
      }
      Thread.sleep(50);
    }
  }

  @Test
  void theCameraReconnectsAfterTheServerRestartsAndAfterAStalledStream() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    kafka.createTopic("frames-rtsp", 1);
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    CameraPublisher.Options options =
        CameraPublisher.Options.of("rtsp-cam")
            .withTopic("frames-rtsp")
            .withBackoff(Duration.ofMillis(200), Duration.ofSeconds(1), -1);
    DoubleSupplier published =
        () -> meters.counter("mqt.camera.published", "camera", "rtsp-cam").count();
    DoubleSupplier reconnects =
        () -> meters.counter("mqt.camera.reconnects", "camera", "rtsp-cam").count();
    Process server = serve(port);
    try (CameraPublisher publisher =
            new CameraPublisher(options, kafka.clientProperties(), meters);
        CameraSource source = CameraSources.open("rtsp://127.0.0.1:" + port + "/live")) {
      assertThat(source.live()).isTrue();
      Thread camera =
          new Thread(
              () -> {
                try {
                  publisher.run(source);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              });
      camera.start();
      await(published, 10, "frames from the server");

      // the server goes away: the camera retries with its backoff, then reads again
      server.destroy();
      server.waitFor();
      await(reconnects, 2, "reconnect attempts while the server is down");
      server = serve(port);
      double before = published.getAsDouble();
      await(published, before + 10, "frames after the server came back");

      // the stream stalls without closing: the read timeout notices, the camera reconnects
      double reconnectsBefore = reconnects.getAsDouble();
      signal(server, "STOP");
      await(reconnects, reconnectsBefore + 1, "a reconnect after the stall");
      signal(server, "CONT");
      before = published.getAsDouble();
      await(published, before + 10, "frames after the stall");

      publisher.stop();
      camera.join(30_000);
      assertThat(camera.isAlive()).isFalse();
    } finally {
      server.destroyForcibly();
    }
    System.out.printf(
        "rtsp: %.0f frames published, %.0f reconnects%n",
        published.getAsDouble(), reconnects.getAsDouble());
    assertThat(List.of(published.getAsDouble())).allMatch(n -> n >= 30);
  }
}
