package io.mqtstream.app.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.mqtstream.app.EngineConfig;
import io.mqtstream.embedded.EmbeddedKafka;
import io.mqtstream.loadtest.Harness;
import io.mqtstream.wire.Answer;
import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The dashboard in a real browser (Debian's headless Chromium through its chromedriver; {@code
 * bin/test} installs both) against a running engine with synthetic cameras on a real broker.
 */
@Tag("browser")
class DashboardBrowserTest {
  private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
  private static final String TOKEN = "open-sesame-4711";
  private static final String KAFKA_SECRET = "kafka-secret-never-shown-0815";

  private static EmbeddedKafka kafka;

  @BeforeAll
  static void startBroker() {
    kafka = EmbeddedKafka.start();
  }

  @AfterAll
  static void stopBroker() {
    CAMERAS.shutdownNow();
    kafka.close();
  }

  private static WebDriver browser() {
    assertThat(CHROMIUM)
        .as("Chromium (Debian package chromium; bin/test installs it)")
        .isExecutable();
    assertThat(CHROMEDRIVER)
        .as("chromedriver (Debian package chromium-driver; bin/test installs it)")
        .isExecutable();
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    options.addArguments(
        "--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000");
    ChromeDriverService service =
        new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile()).build();
    return new ChromeDriver(service, options);
  }

  @Test
  void thePageShowsCamerasAnswersAndTheBudgetAndChangesQuestionsThroughKafka() throws Exception {
    EngineConfig c =
        EngineConfig.parse(
            """
            kafka:
              bootstrapServers: embedded
              framesTopic: dash-frames
              answersTopic: dash-answers
              queriesTopic: dash-queries
              deadLetterTopic: dash-dlq
              groupId: dash-engine
              properties:
                ssl.key.password: %s
            server:
              port: 0
              token: %s
            """
                .formatted(KAFKA_SECRET, TOKEN),
            "dashboard-test");
    kafka.createTopic("dash-frames", 4);
    double capacity = Capacity.framesPerSecondAtM(c);
    HttpClient http = HttpClient.newHttpClient();
    try (Engine engine =
        Engine.start(
            c, kafka.bootstrapServers(), new PrometheusMeterRegistry(PrometheusConfig.DEFAULT))) {
      String base = "http://localhost:" + engine.httpPort();
      Future<?> cameras = cameras(c, "cam-", 2, 2, Duration.ofSeconds(150));
      WebDriver page = browser();
      try {
        page.get(base + "/");
        WebDriverWait wait = new WebDriverWait(page, Duration.ofSeconds(60));

        // a camera's frame and its answers appear
        wait.until(
            d ->
                Boolean.TRUE.equals(
                    ((org.openqa.selenium.JavascriptExecutor) d)
                        .executeScript(
                            "const t = document.querySelector('article[data-camera=cam-0]');"
                                + " return !!t && t.querySelector('img').naturalWidth > 0"
                                + " && t.querySelectorAll('.answers li').length > 0;")));
        String tile = page.findElement(By.cssSelector("article[data-camera='cam-0']")).getText();
        assertThat(tile).contains("how many shapes are there?").containsPattern("m = \\d+");
        assertThat(page.findElement(By.id("token-help")).isDisplayed()).isTrue();

        // an edit without the token is refused, on the page and by the server
        new Select(page.findElement(By.id("question-camera"))).selectByValue("cam-0");
        WebElement text = page.findElement(By.id("question-text"));
        text.sendKeys("is there a red circle?");
        page.findElement(By.id("question-token")).clear();
        page.findElement(By.id("question-save")).click();
        wait.until(d -> d.findElement(By.id("question-status")).getText().contains("refused"));
        HttpResponse<String> refused =
            http.send(
                HttpRequest.newBuilder(URI.create(base + "/api/questions"))
                    .PUT(
                        HttpRequest.BodyPublishers.ofString(
                            "{\"camera\":\"cam-0\",\"questions\":[\"did something appear?\"]}"))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(refused.statusCode()).isEqualTo(401);
        assertThat(engine.questions("cam-0")).isEqualTo(c.questions().defaults());

        // with the token the edit goes through the queries topic into the next answers
        long answersBefore = endOffset(c.kafka().answersTopic());
        page.findElement(By.id("question-token")).sendKeys(TOKEN);
        page.findElement(By.id("question-save")).click();
        wait.until(d -> d.findElement(By.id("question-status")).getText().startsWith("saved"));
        assertThat(awaitAnswer(c.kafka().answersTopic(), answersBefore, "cam-0"))
            .isEqualTo("is there a red circle?");
        wait.until(
            d -> d.findElement(By.id("overrides")).getText().contains("is there a red circle?"));

        // raise the load to three times what the engine answers at M: m falls on the page
        int loadCameras = 8;
        double fps = Math.max(4, 3 * capacity / loadCameras);
        Future<?> load = cameras(c, "load-", loadCameras, fps, Duration.ofSeconds(25));
        new WebDriverWait(page, Duration.ofSeconds(90)).until(d -> mNow(d) > 0 && mNow(d) < 64);
        // the m chart moved: its line has more than one height (read in one script: the page
        // redraws
        // the chart every poll, and a found element can be replaced before its attribute is read)
        String[] points =
            ((org.openqa.selenium.JavascriptExecutor) page)
                .executeScript(
                    "return document.querySelector('#chart-m polyline').getAttribute('points')")
                .toString()
                .split(" ");
        assertThat(java.util.Arrays.stream(points).map(p -> p.split(",")[1]).distinct().count())
            .as("distinct m values drawn in %s", String.join(" ", points))
            .isGreaterThan(1);
        screenshot(page, "dashboard-under-load.png");
        load.get();

        // the page and its data never carry the Kafka settings
        assertThat(page.getPageSource()).doesNotContain(KAFKA_SECRET);
        for (String path : List.of("/", "/api/state", "/api/questions", "/health")) {
          String body =
              http.send(
                      HttpRequest.newBuilder(URI.create(base + path)).build(),
                      HttpResponse.BodyHandlers.ofString())
                  .body();
          assertThat(body).as(path).doesNotContain(KAFKA_SECRET).doesNotContain(TOKEN);
        }
      } finally {
        page.quit();
        cameras.cancel(true);
      }
    }
  }

  private static int mNow(WebDriver d) {
    String text = d.findElement(By.id("m-now")).getText().trim();
    return text.matches("\\d+") ? Integer.parseInt(text) : -1;
  }

  /**
   * Runs the camera harnesses: their futures' {@code cancel(true)} interrupts them, so none
   * outlives its test (a {@code CompletableFuture}'s cancel does not interrupt, and a 150-s harness
   * would go on publishing into the next test class's run).
   */
  private static final ExecutorService CAMERAS = Executors.newCachedThreadPool();

  /** Synthetic cameras in the background; the future completes when they stop. */
  private static Future<?> cameras(
      EngineConfig c, String prefix, int count, double fps, Duration duration) {
    Harness.Options o =
        new Harness.Options(
            count,
            fps,
            duration,
            Harness.Profile.CONSTANT,
            prefix,
            Harness.Options.synthetic(),
            c.kafka().framesTopic(),
            c.kafka().answersTopic(),
            null,
            Duration.ofSeconds(1),
            Duration.ZERO);
    return CAMERAS.submit(
        () -> {
          try {
            new Harness(kafka.clientProperties(), o, r -> {}, p -> {}).run();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
  }

  private static long endOffset(String topic) throws Exception {
    try (KafkaConsumer<String, byte[]> consumer = consumer()) {
      List<TopicPartition> parts =
          consumer.partitionsFor(topic).stream()
              .map(i -> new TopicPartition(topic, i.partition()))
              .toList();
      return consumer.endOffsets(parts).values().stream().mapToLong(Long::longValue).sum();
    }
  }

  /** The question of the first answer for {@code camera} written after {@code from}. */
  private static String awaitAnswer(String topic, long from, String camera) throws Exception {
    try (KafkaConsumer<String, byte[]> consumer = consumer()) {
      List<TopicPartition> parts =
          consumer.partitionsFor(topic).stream()
              .map(i -> new TopicPartition(topic, i.partition()))
              .toList();
      assertThat(parts).hasSize(1);
      consumer.assign(parts);
      consumer.seek(parts.get(0), from);
      long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      String last = null;
      while (System.nanoTime() < deadline) {
        for (var r : consumer.poll(Duration.ofMillis(200))) {
          Answer a = Answer.fromJson(r.value());
          if (a.cameraId().equals(camera)) {
            last = a.question();
            if (!defaultQuestions().contains(last)) {
              return last;
            }
          }
        }
      }
      return last;
    }
  }

  private static List<String> defaultQuestions() {
    return EngineConfig.defaults().questions().defaults();
  }

  private static KafkaConsumer<String, byte[]> consumer() {
    Map<String, Object> p = new HashMap<>(kafka.clientProperties());
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    return new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
  }

  private static void screenshot(WebDriver page, String name) throws Exception {
    File shot = ((org.openqa.selenium.TakesScreenshot) page).getScreenshotAs(OutputType.FILE);
    Path out = Path.of("target", name);
    Files.createDirectories(out.getParent());
    Files.copy(shot.toPath(), out, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
  }
}
