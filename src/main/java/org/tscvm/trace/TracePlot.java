package org.tscvm.trace;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.tscvm.TscvmException;
import org.tscvm.json.Json;

/**
 * {@code tscvm plot}: draws a trace as an SVG picture: the guest TSC of each vCPU (one
 * polyline per vCPU, {@code class="series"}) against host time, with a circle at each
 * TSC_ADJUST write, a diamond at each TSC write, a square at each generation change, and a
 * dashed vertical line at each snapshot, restore or migration. Between two events the TSC
 * runs straight, so a line through the events is the TSC's whole history; a write shows as a
 * vertical step at its instant.
 */
public final class TracePlot {
    private static final int WIDTH = 960;
    private static final int HEIGHT = 560;
    private static final int LEFT = 110;
    private static final int RIGHT = 220;
    private static final int TOP = 50;
    private static final int BOTTOM = 60;
    private static final String[] COLOURS = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
        "#8c564b", "#e377c2"};

    private record Point(double micros, double tsc) {
    }

    /** {@code label}: the short text beside the marker, or null. */
    private record Marker(String shape, double micros, double tsc, String title, String label) {
    }

    private record StateLine(double micros, String kind) {
    }

    private static final class Series {
        final List<Point> points = new ArrayList<>();
        final List<Marker> markers = new ArrayList<>();
        String name;
    }

    private final Map<Integer, Series> series = new TreeMap<>();
    private final List<StateLine> stateLines = new ArrayList<>();

    private TracePlot() {
    }

    /**
     * The SVG picture of the trace-event JSON {@code traceJson}.
     *
     * @throws TscvmException if the text is not JSON or not a tscvm trace
     */
    public static String render(String traceJson) {
        TracePlot plot = new TracePlot();
        plot.read(Json.parse(traceJson));
        return plot.svg();
    }

    private void read(Object root) {
        if (!(root instanceof Map<?, ?> map) || !(map.get("traceEvents") instanceof List<?> events)) {
            throw new TscvmException("not a trace: no \"traceEvents\" array at the top");
        }
        List<Map<?, ?>> instants = new ArrayList<>();
        for (Object e : events) {
            if (!(e instanceof Map<?, ?> event)) {
                throw new TscvmException("not a trace: an event that is not an object");
            }
            if ("M".equals(event.get("ph")) && "thread_name".equals(event.get("name"))
                    && event.get("args") instanceof Map<?, ?> args) {
                seriesOf(event).name = String.valueOf(args.get("name"));
            } else if ("i".equals(event.get("ph"))) {
                instants.add(event);
            }
        }
        // Stable: a write's before and after points keep their order at one instant.
        instants.sort((a, b) -> number(a, "ts").compareTo(number(b, "ts")));
        for (Map<?, ?> event : instants) {
            add(event);
        }
    }

    private void add(Map<?, ?> event) {
        Series s = seriesOf(event);
        double ts = number(event, "ts").doubleValue();
        Map<?, ?> args = event.get("args") instanceof Map<?, ?> a ? a : Map.of();
        String kind = String.valueOf(args.get("kind"));
        if (args.get("tsc_before") instanceof Number before && args.get("tsc_after") instanceof Number after) {
            s.points.add(new Point(ts, unsigned(before)));
            s.points.add(new Point(ts, unsigned(after)));
        } else if (args.get("tsc") instanceof Number tsc) {
            s.points.add(new Point(ts, unsigned(tsc)));
        }
        double tsc = args.get("tsc") instanceof Number t ? unsigned(t) : 0;
        String origin = String.valueOf(args.get("origin"));
        switch (kind) {
            case "MSR_WRITE" -> {
                if ("0x3b".equals(args.get("msr"))) {
                    s.markers.add(new Marker("circle", ts, tsc, origin + " TSC_ADJUST write: " + args.get("adjust_before")
                            + " -> " + args.get("adjust_after"), origin + " TSC_ADJUST"));
                } else if ("0x10".equals(args.get("msr"))) {
                    s.markers.add(new Marker("diamond", ts, tsc, origin + " TSC write: " + args.get("value"),
                            origin + " TSC"));
                }
            }
            case "GENERATION" -> s.markers.add(new Marker("square", ts, tsc, "generation "
                    + args.get("generation_before") + " -> " + args.get("generation_after"), null));
            case "SNAPSHOT", "RESTORE", "MIGRATION" -> {
                if (stateLines.isEmpty() || stateLines.get(stateLines.size() - 1).micros() != ts) {
                    stateLines.add(new StateLine(ts, kind.toLowerCase(Locale.ROOT)));
                }
            }
            default -> {
            }
        }
    }

    private Series seriesOf(Map<?, ?> event) {
        int tid = number(event, "tid").intValue();
        return series.computeIfAbsent(tid, t -> {
            Series s = new Series();
            s.name = "thread " + t;
            return s;
        });
    }

    /** A TSC as the trace writes it (unsigned decimal), as a double. */
    private static double unsigned(Number tsc) {
        return Json.decimal(tsc).doubleValue();
    }

    private static BigDecimal number(Map<?, ?> event, String key) {
        if (event.get(key) instanceof Number n) {
            return Json.decimal(n);
        }
        throw new TscvmException("not a trace: an event without a numeric \"" + key + "\"");
    }

    // ---------------------------------------------------------------- drawing

    private double minX;
    private double maxX;
    private double minY;
    private double maxY;

    private String svg() {
        series.values().removeIf(s -> s.points.isEmpty());
        computeRanges();
        StringBuilder svg = new StringBuilder();
        svg.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
                .append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"").append(WIDTH).append("\" height=\"")
                .append(HEIGHT).append("\" viewBox=\"0 0 ").append(WIDTH).append(' ').append(HEIGHT)
                .append("\" font-family=\"sans-serif\" font-size=\"12\">\n")
                .append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n")
                .append("<text x=\"").append(LEFT).append("\" y=\"28\" font-size=\"16\">Guest TSC of each vCPU against host time</text>\n");
        axes(svg);
        for (StateLine line : stateLines) {
            double x = x(line.micros());
            svg.append("<g class=\"state\"><line x1=\"").append(f(x)).append("\" y1=\"").append(TOP).append("\" x2=\"")
                    .append(f(x)).append("\" y2=\"").append(HEIGHT - BOTTOM)
                    .append("\" stroke=\"#555\" stroke-dasharray=\"6,4\"/><text x=\"").append(f(x + 3)).append("\" y=\"")
                    .append(TOP + 12).append("\" fill=\"#555\">").append(line.kind()).append("</text></g>\n");
        }
        int i = 0;
        for (Map.Entry<Integer, Series> e : series.entrySet()) {
            Series s = e.getValue();
            String colour = COLOURS[i % COLOURS.length];
            svg.append("<g class=\"vcpu\" id=\"track-").append(e.getKey()).append("\">\n<title>").append(escape(s.name))
                    .append("</title>\n<polyline class=\"series\" fill=\"none\" stroke=\"").append(colour)
                    .append("\" stroke-width=\"2\" points=\"");
            for (Point p : s.points) {
                svg.append(f(x(p.micros()))).append(',').append(f(y(p.tsc()))).append(' ');
            }
            svg.append("\"/>\n");
            for (Marker m : s.markers) {
                marker(svg, m, colour);
            }
            svg.append("</g>\n");
            legendEntry(svg, i, colour, s.name);
            i++;
        }
        legendMarkers(svg, i);
        if (series.isEmpty()) {
            svg.append("<text x=\"").append(LEFT + 20).append("\" y=\"").append(TOP + 40)
                    .append("\">the trace has no guest TSC events</text>\n");
        }
        return svg.append("</svg>\n").toString();
    }

    private void computeRanges() {
        minX = Double.MAX_VALUE;
        maxX = -Double.MAX_VALUE;
        minY = Double.MAX_VALUE;
        maxY = -Double.MAX_VALUE;
        for (Series s : series.values()) {
            for (Point p : s.points) {
                minX = Math.min(minX, p.micros());
                maxX = Math.max(maxX, p.micros());
                minY = Math.min(minY, p.tsc());
                maxY = Math.max(maxY, p.tsc());
            }
        }
        for (StateLine l : stateLines) {
            minX = Math.min(minX, l.micros());
            maxX = Math.max(maxX, l.micros());
        }
        if (minX > maxX) {
            minX = 0;
            maxX = 1;
            minY = 0;
            maxY = 1;
        }
        minY = Math.min(minY, 0);
        if (maxX - minX <= 0) {
            maxX = minX + 1;
        }
        if (maxY - minY <= 0) {
            maxY = minY + 1;
        }
        double pad = (maxY - minY) * 0.05;
        maxY += pad;
        maxX += (maxX - minX) * 0.02;
    }

    private double x(double micros) {
        return LEFT + (micros - minX) / (maxX - minX) * (WIDTH - LEFT - RIGHT);
    }

    private double y(double tsc) {
        return HEIGHT - BOTTOM - (tsc - minY) / (maxY - minY) * (HEIGHT - TOP - BOTTOM);
    }

    private void axes(StringBuilder svg) {
        int x0 = LEFT;
        int y0 = HEIGHT - BOTTOM;
        svg.append("<g class=\"axes\" stroke=\"#000\">\n<line x1=\"").append(x0).append("\" y1=\"").append(TOP)
                .append("\" x2=\"").append(x0).append("\" y2=\"").append(y0).append("\"/>\n<line x1=\"").append(x0)
                .append("\" y1=\"").append(y0).append("\" x2=\"").append(WIDTH - RIGHT).append("\" y2=\"").append(y0)
                .append("\"/>\n</g>\n");
        double xUnit = maxX - minX >= 2e6 ? 1e6 : maxX - minX >= 2e3 ? 1e3 : 1;
        String xName = xUnit == 1e6 ? "s" : xUnit == 1e3 ? "ms" : "µs";
        double step = niceStep((maxX - minX) / 6);
        for (double v = Math.ceil(minX / step) * step; v <= maxX; v += step) {
            double x = x(v);
            svg.append("<line x1=\"").append(f(x)).append("\" y1=\"").append(y0).append("\" x2=\"").append(f(x))
                    .append("\" y2=\"").append(y0 + 5).append("\" stroke=\"#000\"/><text x=\"").append(f(x))
                    .append("\" y=\"").append(y0 + 20).append("\" text-anchor=\"middle\">").append(label(v / xUnit))
                    .append("</text>\n");
        }
        svg.append("<text x=\"").append((LEFT + WIDTH - RIGHT) / 2).append("\" y=\"").append(HEIGHT - 18)
                .append("\" text-anchor=\"middle\">host time (").append(xName).append(")</text>\n");
        double yStep = niceStep((maxY - minY) / 6);
        for (double v = Math.ceil(minY / yStep) * yStep; v <= maxY; v += yStep) {
            double y = y(v);
            svg.append("<line x1=\"").append(x0 - 5).append("\" y1=\"").append(f(y)).append("\" x2=\"")
                    .append(WIDTH - RIGHT).append("\" y2=\"").append(f(y))
                    .append("\" stroke=\"#ddd\"/><text x=\"").append(x0 - 8).append("\" y=\"").append(f(y + 4))
                    .append("\" text-anchor=\"end\">").append(label(v)).append("</text>\n");
        }
        svg.append("<text transform=\"translate(20,").append((TOP + HEIGHT - BOTTOM) / 2)
                .append(") rotate(-90)\" text-anchor=\"middle\">guest TSC (cycles)</text>\n");
    }

    private void marker(StringBuilder svg, Marker m, String colour) {
        svg.append("<g class=\"marker ").append(m.shape()).append("\" transform=\"translate(").append(f(x(m.micros())))
                .append(',').append(f(y(m.tsc()))).append(")\"><title>").append(escape(m.title())).append("</title>");
        shape(svg, m.shape(), colour);
        if (m.label() != null) {
            svg.append("<text x=\"9\" y=\"-9\" font-size=\"11\">").append(escape(m.label())).append("</text>");
        }
        svg.append("</g>\n");
    }

    private static void shape(StringBuilder svg, String shape, String colour) {
        switch (shape) {
            case "circle" -> svg.append("<circle r=\"6\" fill=\"white\" stroke=\"").append(colour)
                    .append("\" stroke-width=\"2\"/>");
            case "diamond" -> svg.append("<path d=\"M0,-7 L7,0 L0,7 L-7,0 Z\" fill=\"").append(colour).append("\"/>");
            default -> svg.append("<rect x=\"-5\" y=\"-5\" width=\"10\" height=\"10\" fill=\"none\" stroke=\"#000\"/>");
        }
    }

    private void legendEntry(StringBuilder svg, int i, String colour, String name) {
        int x = WIDTH - RIGHT + 20;
        int y = TOP + 10 + i * 20;
        svg.append("<line x1=\"").append(x).append("\" y1=\"").append(y).append("\" x2=\"").append(x + 24)
                .append("\" y2=\"").append(y).append("\" stroke=\"").append(colour)
                .append("\" stroke-width=\"2\"/><text x=\"").append(x + 30).append("\" y=\"").append(y + 4).append("\">")
                .append(escape(name)).append("</text>\n");
    }

    private static void legendMarkers(StringBuilder svg, int entries) {
        String[][] rows = {{"circle", "TSC_ADJUST write"}, {"diamond", "TSC write"}, {"square", "generation change"}};
        int x = WIDTH - RIGHT + 32;
        int y = TOP + 30 + entries * 20;
        for (String[] row : rows) {
            svg.append("<g transform=\"translate(").append(x).append(',').append(y).append(")\">");
            shape(svg, row[0], "#444");
            svg.append("</g><text x=\"").append(x + 18).append("\" y=\"").append(y + 4).append("\">").append(row[1])
                    .append("</text>\n");
            y += 22;
        }
        svg.append("<line x1=\"").append(x - 12).append("\" y1=\"").append(y).append("\" x2=\"").append(x + 12)
                .append("\" y2=\"").append(y).append("\" stroke=\"#555\" stroke-dasharray=\"6,4\"/><text x=\"")
                .append(x + 18).append("\" y=\"").append(y + 4).append("\">snapshot / restore</text>\n");
    }

    private static double niceStep(double rough) {
        double magnitude = Math.pow(10, Math.floor(Math.log10(rough)));
        double r = rough / magnitude;
        return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * magnitude;
    }

    private static String label(double v) {
        if (Math.abs(v) < 1e-9) {
            return "0";
        }
        if (Math.abs(v) >= 1e5) {
            return String.format(Locale.ROOT, "%.2e", v).replace("e+", "e").replaceAll("\\.?0+e", "e");
        }
        return String.format(Locale.ROOT, "%.6g", v).replaceAll("\\.?0+$", "");
    }

    private static String f(double v) {
        return String.format(Locale.ROOT, "%.1f", v);
    }

    private static String escape(String text) {
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
