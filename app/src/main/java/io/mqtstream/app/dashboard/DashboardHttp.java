package io.mqtstream.app.dashboard;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.publisher.BufferOverflowStrategy;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * The dashboard's HTTP side, on the engine's own server (no other service, no build step): the page
 * and its script at {@code /}, a snapshot at {@code /api/state}, live events at {@code /events}
 * (server-sent events), each camera's latest frame at {@code /api/frame?camera=ID}, and the
 * standing questions at {@code /api/questions} (GET; PUT {@code {"camera","questions"}} to change,
 * with {@code Authorization: Bearer TOKEN} when {@code server.token} is set). Nothing it serves
 * carries Kafka settings.
 */
public final class DashboardHttp implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DashboardHttp.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int MAX_EVENT_CLIENTS = 8;
  private static final int MAX_BODY = 64 * 1024;

  private final Dashboard dashboard;
  private final Questions questions;
  private final String token;
  private final Semaphore eventClients = new Semaphore(MAX_EVENT_CLIENTS);
  private final Scheduler writers = Schedulers.newBoundedElastic(MAX_EVENT_CLIENTS, 64, "mqt-sse");
  private volatile boolean closed;

  /**
   * @param token the token a change of questions needs; empty = none
   */
  public DashboardHttp(Dashboard dashboard, Questions questions, String token) {
    this.dashboard = dashboard;
    this.questions = questions;
    this.token = token == null ? "" : token;
  }

  /** Adds the dashboard's paths to {@code server}. */
  public void register(HttpServer server) {
    server.createContext("/", this::page);
    server.createContext("/api/state", ex -> json(ex, 200, state()));
    server.createContext("/api/frame", this::frame);
    server.createContext("/api/questions", this::questions);
    server.createContext("/events", this::events);
  }

  private void page(HttpExchange ex) throws IOException {
    String path = ex.getRequestURI().getPath();
    String resource =
        switch (path) {
          case "/", "/index.html" -> "index.html";
          case "/dashboard.js" -> "dashboard.js";
          case "/dashboard.css" -> "dashboard.css";
          default -> null;
        };
    if (resource == null) {
      reply(ex, 404, "text/plain; charset=utf-8", bytes("not found: " + path));
      return;
    }
    try (InputStream in = DashboardHttp.class.getResourceAsStream("/mqt/dashboard/" + resource)) {
      if (in == null) {
        throw new IllegalStateException("dashboard resource missing: " + resource);
      }
      String type =
          resource.endsWith(".js")
              ? "text/javascript; charset=utf-8"
              : resource.endsWith(".css") ? "text/css; charset=utf-8" : "text/html; charset=utf-8";
      reply(ex, 200, type, in.readAllBytes());
    }
  }

  private ObjectNode state() {
    ObjectNode s = dashboard.snapshot();
    s.set("questions", questionsJson());
    s.put("tokenRequired", !token.isEmpty());
    return s;
  }

  private ObjectNode questionsJson() {
    ObjectNode q = JSON.createObjectNode();
    q.set("defaults", JSON.valueToTree(questions.defaults()));
    q.set("overrides", JSON.valueToTree(questions.overrides()));
    return q;
  }

  private void frame(HttpExchange ex) throws IOException {
    String camera = query(ex, "camera").orElse("");
    Optional<byte[]> jpeg = dashboard.latestFrame(camera);
    if (jpeg.isEmpty()) {
      reply(ex, 404, "text/plain; charset=utf-8", bytes("no frame from " + camera));
      return;
    }
    ex.getResponseHeaders().set("Cache-Control", "no-store");
    reply(ex, 200, "image/jpeg", jpeg.get());
  }

  private void questions(HttpExchange ex) throws IOException {
    switch (ex.getRequestMethod()) {
      case "GET" -> json(ex, 200, questionsJson());
      case "PUT", "POST" -> change(ex);
      default -> reply(ex, 405, "text/plain; charset=utf-8", bytes("GET or PUT"));
    }
  }

  private void change(HttpExchange ex) throws IOException {
    if (!authorised(ex)) {
      json(
          ex,
          401,
          error(
              "a token is needed to change questions: send Authorization: Bearer <server.token>"));
      return;
    }
    byte[] body = ex.getRequestBody().readNBytes(MAX_BODY + 1);
    String camera;
    List<String> asked = new ArrayList<>();
    try {
      if (body.length > MAX_BODY) {
        throw new IllegalArgumentException("body over " + MAX_BODY + " bytes");
      }
      JsonNode req = JSON.readTree(body);
      camera = req.path("camera").asText("").trim();
      if (camera.isEmpty()) {
        throw new IllegalArgumentException("camera: must name a camera or *");
      }
      if (!req.path("questions").isArray()) {
        throw new IllegalArgumentException("questions: must be a list of text");
      }
      for (JsonNode q : req.path("questions")) {
        if (!q.isTextual()) {
          throw new IllegalArgumentException("questions: must be a list of text");
        }
        if (!q.asText().isBlank()) {
          asked.add(q.asText().trim());
        }
      }
    } catch (IOException | IllegalArgumentException e) {
      json(ex, 400, error(e.getMessage()));
      return;
    }
    try {
      questions.set(camera, asked);
      log.info("dashboard: standing questions of {} set to {}", camera, asked);
      reply(ex, 204, "text/plain", new byte[0]);
    } catch (Exception e) {
      json(ex, 503, error("the queries topic did not take the change: " + e.getMessage()));
    }
  }

  private boolean authorised(HttpExchange ex) {
    if (token.isEmpty()) {
      return true;
    }
    String given = Optional.ofNullable(ex.getRequestHeaders().getFirst("Authorization")).orElse("");
    String expected = "Bearer " + token;
    return MessageDigest.isEqual(
        given.getBytes(StandardCharsets.UTF_8), expected.getBytes(StandardCharsets.UTF_8));
  }

  /** Server-sent events until the client goes or the server closes; one thread per client. */
  private void events(HttpExchange ex) throws IOException {
    if (!eventClients.tryAcquire()) {
      reply(ex, 503, "text/plain; charset=utf-8", bytes("too many event listeners"));
      return;
    }
    CountDownLatch gone = new CountDownLatch(1);
    Disposable subscription = null;
    try {
      ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
      ex.getResponseHeaders().set("Cache-Control", "no-store");
      ex.sendResponseHeaders(200, 0);
      OutputStream out = ex.getResponseBody();
      out.write(bytes(": mqt-stream events\n\n"));
      out.flush();
      subscription =
          dashboard
              .events()
              .onBackpressureBuffer(512, dropped -> {}, BufferOverflowStrategy.DROP_OLDEST)
              .publishOn(writers, 64)
              .subscribe(
                  event -> {
                    try {
                      out.write(bytes("data: " + event + "\n\n"));
                      out.flush();
                    } catch (IOException e) {
                      throw new UncheckedIOException(e); // the client went away
                    }
                  },
                  e -> gone.countDown(),
                  gone::countDown);
      while (!closed && !gone.await(1, TimeUnit.SECONDS)) {
        // held open; the subscription writes
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      if (subscription != null) {
        subscription.dispose();
      }
      eventClients.release();
      ex.close();
    }
  }

  private static Optional<String> query(HttpExchange ex, String key) {
    String q = ex.getRequestURI().getRawQuery();
    if (q == null) {
      return Optional.empty();
    }
    for (String part : q.split("&")) {
      int eq = part.indexOf('=');
      if (eq > 0 && part.substring(0, eq).equals(key)) {
        return Optional.of(
            java.net.URLDecoder.decode(part.substring(eq + 1), StandardCharsets.UTF_8));
      }
    }
    return Optional.empty();
  }

  private static ObjectNode error(String message) {
    return JSON.createObjectNode().put("error", message);
  }

  private static void json(HttpExchange ex, int status, JsonNode body) throws IOException {
    reply(ex, status, "application/json", JSON.writeValueAsBytes(body));
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static void reply(HttpExchange ex, int status, String type, byte[] body)
      throws IOException {
    ex.getResponseHeaders().set("Content-Type", type);
    ex.sendResponseHeaders(status, status == 204 ? -1 : body.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(body);
    }
  }

  /** Ends the event streams (their threads return). */
  @Override
  public void close() {
    closed = true;
    writers.dispose();
  }
}
