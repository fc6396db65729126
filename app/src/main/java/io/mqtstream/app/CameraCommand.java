package io.mqtstream.app;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.mqtstream.camera.CameraPublisher;
import io.mqtstream.camera.CameraSource;
import io.mqtstream.camera.CameraSources;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mqt-stream camera}: publishes one camera to the frames topic of a running cluster. */
@Command(
    name = "camera",
    description =
        "Publish a camera (file, rtsp://, http(s)://, /dev/videoN, synthetic:) to the frames topic.")
final class CameraCommand implements Callable<Integer> {
  @Option(
      names = "--source",
      required = true,
      description = "file path, rtsp://…, http(s)://…, /dev/videoN or synthetic:…")
  String source;

  @Option(names = "--camera-id", required = true, description = "key of the camera's records")
  String cameraId;

  @Option(
      names = "--fps",
      defaultValue = "0",
      description = "frames per second; 0 = as the source gives them (default)")
  double fps;

  @Option(
      names = "--bootstrap",
      description = "Kafka bootstrap servers (default: from --config, else 127.0.0.1:9092)")
  String bootstrap;

  @Option(
      names = "--config",
      description = "engine YAML for topic names and Kafka client properties")
  Path config;

  @Option(
      names = "--kafka-property",
      description = "extra Kafka client property key=value (repeatable)")
  Map<String, String> kafkaProperties = new HashMap<>();

  @Option(
      names = "--jpeg-quality",
      defaultValue = "0.85",
      description = "JPEG quality 0..1 (default 0.85)")
  float jpegQuality;

  @Option(names = "--loop", description = "restart a video file at its end")
  boolean loop;

  @Option(
      names = "--max-frames",
      defaultValue = "0",
      description = "stop after this many frames; 0 = no limit")
  long maxFrames;

  @Override
  public Integer call() throws Exception {
    EngineConfig engine = config == null ? EngineConfig.defaults() : EngineConfig.load(config);
    String servers =
        bootstrap != null
            ? bootstrap
            : engine.kafka().embedded() ? "127.0.0.1:9092" : engine.kafka().bootstrapServers();
    Map<String, Object> client = engine.kafka().clientProperties(servers);
    client.putAll(kafkaProperties);
    CameraPublisher.Options options =
        new CameraPublisher.Options(
            engine.kafka().framesTopic(),
            cameraId,
            fps,
            jpegQuality,
            loop,
            maxFrames,
            Duration.ofMillis(500),
            Duration.ofSeconds(30),
            -1);
    try (CameraPublisher publisher =
            new CameraPublisher(options, client, new SimpleMeterRegistry());
        CameraSource camera = CameraSources.open(source)) {
      Runtime.getRuntime().addShutdownHook(new Thread(publisher::stop));
      CameraPublisher.Result r = publisher.run(camera);
      System.out.printf(
          "camera %s: published %d, dropped %d, reconnects %d%n",
          cameraId, r.published(), r.dropped(), r.reconnects());
    }
    return 0;
  }
}
