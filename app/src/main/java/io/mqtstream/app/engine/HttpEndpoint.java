package io.mqtstream.app.engine;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * {@code /metrics} (Prometheus text format) and {@code /health} (JSON, 200 when up, 503 when not)
 * on the JDK's HTTP server, plus whatever else registers on it (the dashboard): a few endpoints
 * need no web framework. A small pool serves it; long-lived event streams hold one thread each (the
 * dashboard bounds how many).
 */
final class HttpEndpoint implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Whether the engine is up, and what to say about it. */
  record Health(boolean up, Map<String, Object> details) {}

  private final HttpServer server;

  private HttpEndpoint(HttpServer server) {
    this.server = server;
  }

  static HttpEndpoint start(
      int port, MeterRegistry meters, Supplier<Health> health, Consumer<HttpServer> more)
      throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress(port), 64);
    AtomicInteger threads = new AtomicInteger();
    server.setExecutor(
        Executors.newFixedThreadPool(
            12,
            r -> {
              Thread t = new Thread(r, "mqt-http-" + threads.incrementAndGet());
              t.setDaemon(true);
              return t;
            }));
    more.accept(server);
    server.createContext(
        "/metrics",
        ex -> {
          String body =
              meters instanceof PrometheusMeterRegistry p
                  ? p.scrape()
                  : "# metrics registry is not Prometheus\n";
          reply(ex, 200, "text/plain; version=0.0.4; charset=utf-8", body);
        });
    server.createContext(
        "/health",
        ex -> {
          Health h = health.get();
          reply(ex, h.up() ? 200 : 503, "application/json", JSON.writeValueAsString(h.details()));
        });
    server.start();
    return new HttpEndpoint(server);
  }

  int port() {
    return server.getAddress().getPort();
  }

  private static void reply(HttpExchange ex, int status, String type, String body)
      throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", type);
    ex.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(bytes);
    }
  }

  @Override
  public void close() {
    server.stop(0);
    ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
  }
}
