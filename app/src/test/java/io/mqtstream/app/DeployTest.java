package io.mqtstream.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The deploy files, checked without a Docker engine or a cluster: the Helm chart is linted and
 * rendered with Helm's own code (helm-java), its manifests validated against the Kubernetes and
 * KEDA schemas ({@code deploy/check/validate.mjs}, Node), the Compose file by {@code docker-compose
 * config}, and every engine configuration the deploy files carry by the engine's own loader. {@code
 * bin/test} obtains Node, the check's npm packages and docker-compose.
 */
@Tag("deploy")
class DeployTest {
  private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
  private static final Path CHART = ROOT.resolve("deploy/k8s/mqt-stream");
  private static final Path OUT = Path.of("target", "deploy");
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

  @Test
  void helmChartLintsRendersAndValidatesAgainstTheKubernetesSchemas() throws Exception {
    LintResult lint = new Helm(CHART).lint().strict().call();
    assertThat(lint.isFailed()).as(String.join("\n", lint.getMessages())).isFalse();

    Files.createDirectories(OUT);
    String cpu = new Helm(CHART).template().withName("demo").withNamespace("video").call();
    String gpu =
        new Helm(CHART)
            .template()
            .withName("demo")
            .withNamespace("video")
            .withValuesFile(CHART.resolve("values-gpu.yaml"))
            .call();
    Path cpuFile = Files.writeString(OUT.resolve("chart-cpu.yaml"), cpu);
    Path gpuFile = Files.writeString(OUT.resolve("chart-gpu.yaml"), gpu);

    List<JsonNode> objects = documents(cpu);
    assertThat(objects.stream().map(o -> o.path("kind").asText()))
        .contains("ConfigMap", "Deployment", "Service", "KafkaTopic", "ScaledObject");
    JsonNode engine = find(objects, "Deployment", "demo-mqt-stream-engine");
    JsonNode container = engine.at("/spec/template/spec/containers/0");
    assertThat(container.at("/readinessProbe/httpGet/path").asText()).isEqualTo("/health");
    assertThat(container.at("/livenessProbe/httpGet/path").asText()).isEqualTo("/health");
    assertThat(engine.at("/spec/template/metadata/annotations/prometheus.io~1scrape").asText())
        .isEqualTo("true");
    assertThat(container.at("/resources/limits").has("nvidia.com/gpu")).isFalse();
    JsonNode scaler = find(objects, "ScaledObject", "demo-mqt-stream-engine");
    assertThat(scaler.at("/spec/triggers/0/type").asText()).isEqualTo("kafka");
    assertThat(scaler.at("/spec/triggers/0/metadata/consumerGroup").asText())
        .isEqualTo("mqt-engine");
    assertThat(scaler.at("/spec/maxReplicaCount").asInt())
        .as("no more replicas than frames partitions")
        .isLessThanOrEqualTo(8);
    assertThat(find(objects, "KafkaTopic", "queries").at("/spec/config/cleanup.policy").asText())
        .isEqualTo("compact");

    // The ConfigMap's engine.yaml is a valid engine configuration (the engine's own loader).
    String engineYaml =
        find(objects, "ConfigMap", "demo-mqt-stream-config").at("/data/engine.yaml").asText();
    EngineConfig config = EngineConfig.parse(engineYaml, "chart ConfigMap");
    assertThat(config.kafka().bootstrapServers()).contains("kafka-bootstrap");
    assertThat(config.kafka().createTopics()).isFalse();
    assertThat(config.server().port()).isEqualTo(9400);

    List<JsonNode> gpuObjects = documents(gpu);
    JsonNode gpuEngine = find(gpuObjects, "Deployment", "demo-mqt-stream-engine");
    assertThat(
            gpuEngine
                .at("/spec/template/spec/containers/0/resources/limits/nvidia.com~1gpu")
                .asInt())
        .isEqualTo(1);
    assertThat(gpuEngine.at("/spec/template/spec/containers/0/image").asText()).endsWith("-cuda");
    EngineConfig gpuConfig =
        EngineConfig.parse(
            find(gpuObjects, "ConfigMap", "demo-mqt-stream-config")
                .at("/data/engine.yaml")
                .asText(),
            "gpu chart ConfigMap");
    assertThat(gpuConfig.model().device()).isEqualTo("gpu");

    Result schema =
        run(
            ROOT.resolve("deploy/check"),
            "node",
            "validate.mjs",
            cpuFile.toAbsolutePath().toString(),
            gpuFile.toAbsolutePath().toString());
    assertThat(schema.code()).as(schema.output()).isZero();
    assertThat(schema.output()).contains("Deployment demo-mqt-stream-engine: valid");
  }

  @Test
  void theSchemaCheckRejectsAnInvalidManifest() throws Exception {
    Files.createDirectories(OUT);
    Path bad =
        Files.writeString(
            OUT.resolve("bad.yaml"),
            """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: broken}
            spec:
              replicas: "three"
              selector: {matchLabels: {a: b}}
              template:
                metadata: {labels: {a: b}}
                spec:
                  containers:
                    - name: c
                      image: x
                      ports: [{containerPort: not-a-number}]
            """);
    Result r =
        run(ROOT.resolve("deploy/check"), "node", "validate.mjs", bad.toAbsolutePath().toString());
    assertThat(r.code()).as(r.output()).isEqualTo(1);
    assertThat(r.output()).contains("INVALID");
  }

  @Test
  void composeFileValidatesAndItsEngineConfigLoads() throws Exception {
    Result r =
        run(
            ROOT,
            "docker-compose",
            "-f",
            "deploy/compose.yaml",
            "--profile",
            "file",
            "--profile",
            "rtsp",
            "config",
            "--services");
    assertThat(r.code()).as(r.output()).isZero();
    assertThat(r.output().lines())
        .contains(
            "kafka",
            "topics",
            "engine",
            "camera-synthetic",
            "camera-file",
            "camera-rtsp",
            "prometheus",
            "grafana");
    EngineConfig c = EngineConfig.load(ROOT.resolve("deploy/engine.compose.yaml"));
    assertThat(c.kafka().bootstrapServers()).isEqualTo("kafka:9092");
    JsonNode dashboard =
        new ObjectMapper()
            .readTree(ROOT.resolve("deploy/grafana/dashboards/mqt-stream.json").toFile());
    String queries = dashboard.toString();
    for (String metric :
        List.of(
            "mqt_engine_answers_total",
            "mqt_engine_latency_seconds_bucket",
            "mqt_budget_m",
            "mqt_budget_stride",
            "mqt_budget_failed_steps_total",
            "mqt_kafka_lag",
            "mqt_dlq_total")) {
      assertThat(queries).as("dashboard shows " + metric).contains(metric);
    }
  }

  @Test
  void dockerfilesBuildWithTheCommandBinMqtStreamUses() throws Exception {
    Matcher m =
        Pattern.compile("\\(cd \"\\$root\" && (mvn [^)]*)\\)")
            .matcher(Files.readString(ROOT.resolve("bin/mqt-stream")));
    assertThat(m.find()).isTrue();
    String build = m.group(1).trim(); // mvn -B -q -DskipTests -Dspotless.check.skip=true install
    assertThat(Files.readString(ROOT.resolve("deploy/Dockerfile"))).contains("RUN " + build);
    assertThat(Files.readString(ROOT.resolve("deploy/Dockerfile.cuda")))
        .contains("RUN " + build.replace("mvn -B -q", "mvn -B -q -Pcuda"));
    assertThat(Files.readString(ROOT.resolve("README.md"))).contains(build);
  }

  @Test
  void modelPresetsMatchTheShippedCheckpointAndThePaper() throws Exception {
    JsonNode tiny = YAML.readTree(ROOT.resolve("configs/models/mqt-tiny.yaml").toFile());
    ObjectMapper json = new ObjectMapper();
    JsonNode enc = json.readTree(ROOT.resolve("models/mqt-tiny/encoder/config.json").toFile());
    JsonNode llm = json.readTree(ROOT.resolve("models/mqt-tiny/llm/llm.json").toFile());
    for (String k : List.of("imageSize", "patchSize", "dim", "layers", "heads")) {
      assertThat(tiny.at("/vision/" + k)).as("vision." + k).isEqualTo(enc.at("/vision/" + k));
    }
    for (String k : List.of("maxTokens", "heads", "keyMode", "tokenPositions", "outputDim")) {
      assertThat(tiny.at("/mqt/" + k)).as("mqt." + k).isEqualTo(enc.at("/mqt/" + k));
    }
    for (String k :
        List.of("layers", "dim", "heads", "ffnDim", "vocab", "maxFrames", "tokenIndex")) {
      assertThat(tiny.at("/llm/" + k)).as("llm." + k).isEqualTo(llm.at("/" + k));
    }
    JsonNode llava = YAML.readTree(ROOT.resolve("configs/models/mqt-llava-7b.yaml").toFile());
    int side = llava.at("/vision/image_size").asInt() / llava.at("/vision/patch_size").asInt();
    assertThat(side * side).as("CLIP ViT-L/14-336 patches").isEqualTo(576);
    assertThat(llava.at("/mqt/num_queries").asInt()).isEqualTo(256);
    assertThat(llava.at("/mqt/heads").asInt()).isEqualTo(16);
    assertThat(llava.at("/llm/mm_hidden_size")).isEqualTo(llava.at("/vision/hidden_size"));
  }

  private static List<JsonNode> documents(String yaml) throws IOException {
    List<JsonNode> out = new ArrayList<>();
    try (var parser = new YAMLMapper().createParser(yaml)) {
      var it = YAML.readValues(parser, JsonNode.class);
      while (it.hasNext()) {
        JsonNode n = it.next();
        if (n != null && !n.isNull() && !n.isMissingNode()) {
          out.add(n);
        }
      }
    }
    return out;
  }

  private static JsonNode find(List<JsonNode> objects, String kind, String name) {
    return objects.stream()
        .filter(o -> kind.equals(o.path("kind").asText()))
        .filter(o -> name.equals(o.at("/metadata/name").asText()))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no " + kind + " " + name + " in " + objects));
  }

  private record Result(int code, String output) {}

  private static Result run(Path dir, String... command) throws Exception {
    Process p;
    try {
      p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
    } catch (IOException e) {
      throw new AssertionError(
          command[0] + " is not installed: bin/test installs it (" + e.getMessage() + ")", e);
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    return new Result(p.exitValue(), out);
  }
}
