package io.mqtstream.loadtest;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import javax.imageio.ImageIO;

/** A PNG line chart of series over run time (seconds), e.g. latency percentiles or m. */
public final class TimeChart {
  private static final int W = 760;
  private static final int H = 360;
  private static final Color[] PALETTE = {
    new Color(40, 90, 200), new Color(200, 40, 40), new Color(30, 150, 60), new Color(150, 60, 170)
  };

  private final String title;
  private final String unit;
  private final Map<String, TreeMap<Long, Double>> series = new LinkedHashMap<>();

  public TimeChart(String title, String unit) {
    this.title = title;
    this.unit = unit;
  }

  /** Adds a line: second → value (NaN values are gaps). */
  public TimeChart line(String name, Map<Long, Double> points) {
    TreeMap<Long, Double> clean = new TreeMap<>();
    points.forEach(
        (t, v) -> {
          if (v != null && !v.isNaN()) {
            clean.put(t, v);
          }
        });
    series.put(name, clean);
    return this;
  }

  public void write(Path file) throws IOException {
    BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, W, H);
    int left = 70;
    int right = W - 20;
    int top = 40;
    int bottom = H - 45;
    long tMax = 1;
    double vMax = 0;
    for (TreeMap<Long, Double> s : series.values()) {
      if (!s.isEmpty()) {
        tMax = Math.max(tMax, s.lastKey());
        vMax = Math.max(vMax, s.values().stream().mapToDouble(Double::doubleValue).max().orElse(0));
      }
    }
    vMax = niceCeiling(vMax);
    g.setColor(Color.BLACK);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
    g.drawString(title, left, 22);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
    for (int i = 0; i <= 5; i++) {
      double v = vMax * i / 5;
      int y = (int) (bottom - (bottom - top) * (v / vMax));
      g.setColor(new Color(225, 225, 225));
      g.drawLine(left, y, right, y);
      g.setColor(Color.DARK_GRAY);
      g.drawString(String.format(Locale.ROOT, "%.0f", v), left - 45, y + 4);
    }
    for (int i = 0; i <= 6; i++) {
      long t = tMax * i / 6;
      int x = (int) (left + (right - left) * ((double) t / tMax));
      g.drawString(t + " s", x - 10, bottom + 16);
    }
    g.drawString(unit, 8, top - 8);
    g.setColor(Color.BLACK);
    g.drawLine(left, bottom, right, bottom);
    g.drawLine(left, top, left, bottom);
    int k = 0;
    for (Map.Entry<String, TreeMap<Long, Double>> s : series.entrySet()) {
      Color c = PALETTE[k % PALETTE.length];
      g.setColor(c);
      g.setStroke(new BasicStroke(2f));
      int px = -1;
      int py = -1;
      long pt = Long.MIN_VALUE;
      for (Map.Entry<Long, Double> e : s.getValue().entrySet()) {
        int x = (int) (left + (right - left) * ((double) e.getKey() / tMax));
        int y = (int) (bottom - (bottom - top) * (e.getValue() / vMax));
        if (px >= 0 && e.getKey() - pt <= 2) {
          g.drawLine(px, py, x, y);
        } else {
          g.fillOval(x - 2, y - 2, 4, 4);
        }
        px = x;
        py = y;
        pt = e.getKey();
      }
      g.drawString(s.getKey(), right - 200, top + 14 + 16 * k);
      k++;
    }
    g.dispose();
    Files.createDirectories(file.toAbsolutePath().getParent());
    ImageIO.write(img, "png", file.toFile());
  }

  private static double niceCeiling(double v) {
    if (v <= 0) {
      return 1;
    }
    double p = Math.pow(10, Math.floor(Math.log10(v)));
    for (double step : new double[] {1, 2, 2.5, 5, 10}) {
      if (step * p >= v) {
        return step * p;
      }
    }
    return 10 * p;
  }
}
