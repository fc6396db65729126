package io.mqtstream.world;

import java.awt.Color;

/** The colours of the synthetic world: far apart, so JPEG and resizing keep them apart. */
public enum Colour {
  RED(220, 30, 30),
  GREEN(30, 180, 40),
  BLUE(40, 60, 230),
  YELLOW(240, 220, 30),
  WHITE(245, 245, 245);

  private final Color rgb;

  Colour(int r, int g, int b) {
    this.rgb = new Color(r, g, b);
  }

  public Color rgb() {
    return rgb;
  }

  public String word() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
