package io.mqtstream.app;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.mqtstream.app.engine.Engine;
import io.mqtstream.embedded.EmbeddedKafka;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code mqt-stream run}: the engine against the cluster of its configuration until stopped;
 * SIGTERM (or Ctrl-C) stops polling, drains in-flight frames, commits and exits 0.
 */
@Command(
    name = "run",
    description = "Run the engine against the Kafka cluster in the configuration until stopped.")
final class RunCommand implements Callable<Integer> {
  @Option(names = "--config", description = "engine YAML over the defaults (configs/engine.yaml)")
  Path config;

  @Override
  public Integer call() throws Exception {
    EngineConfig engineConfig =
        config == null ? EngineConfig.defaults() : EngineConfig.load(config);
    EmbeddedKafka embedded = null;
    String bootstrap = engineConfig.kafka().bootstrapServers();
    if (engineConfig.kafka().embedded()) {
      embedded = EmbeddedKafka.start();
      embedded.createTopic(engineConfig.kafka().framesTopic(), 4);
      bootstrap = embedded.bootstrapServers();
      System.err.println("run: embedded Kafka at " + bootstrap);
    }
    PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    Engine engine = Engine.start(engineConfig, bootstrap, meters);
    CountDownLatch exited = new CountDownLatch(1);
    EmbeddedKafka broker = embedded;
    Thread hook =
        new Thread(
            () -> {
              System.err.println("run: stopping (draining in-flight frames)");
              engine.close();
              if (broker != null) {
                broker.close();
              }
              exited.countDown();
            },
            "mqt-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    engine.done().join(); // returns on a graceful stop or throws what ended the pipeline
    exited.await();
    return 0;
  }
}
