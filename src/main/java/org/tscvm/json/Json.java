package org.tscvm.json;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * JSON (RFC 8259) as plain Java values, read and written: an object is a
 * {@code Map<String, Object>} in member order, an array a {@code List<Object>}, then
 * {@code String}, {@code Boolean} and {@code null}. A number is a {@code Long} when it is
 * written as an integer (no fraction, no exponent) that fits, and an exact {@link BigDecimal}
 * otherwise, so an unsigned 64-bit TSC in a trace survives to the last digit and QMP's
 * integer arguments are plain longs.
 *
 * <pre>{@code
 * Object v = Json.parse("{\"tsc\": 18446744073709551615, \"id\": 1}"); // {tsc=18446744073709551615 (BigDecimal), id=1 (Long)}
 * Object q = Json.parseQmp("{'execute': 'stop'}");                     // QMP's single quotes too
 * String s = Json.write(Map.of("return", Map.of()));                    // {"return": {}}
 * }</pre>
 *
 * <p>The reader is strict and bounded: trailing commas, leading zeros, NaN, control characters
 * in strings, duplicate keys, text after the value and nesting deeper than {@link #MAX_DEPTH}
 * are refused with a {@link JsonException} naming the offset, so a hostile QMP client can
 * neither overflow the stack nor (with the QMP framer's size limit) exhaust memory. The writer
 * emits ASCII only, as QMP's server does.
 */
public final class Json {
    /** Nesting limit; QMP's own messages nest four or five levels, a trace three. */
    public static final int MAX_DEPTH = 64;

    private final String text;
    /** QMP's extension: strings in single quotes, and the {@code \'} escape. */
    private final boolean qmp;
    private int pos;

    private Json(String text, boolean qmp) {
        this.text = text;
        this.qmp = qmp;
    }

    /**
     * Parses exactly one RFC 8259 JSON value (surrounding whitespace allowed).
     *
     * @throws JsonException naming the offset and what was wrong
     */
    public static Object parse(String text) {
        return new Json(text, false).whole();
    }

    /**
     * Parses one value as QEMU's QMP parser reads it: RFC 8259 plus strings in single quotes
     * and the {@code \'} escape.
     *
     * @throws JsonException naming the offset and what was wrong
     */
    public static Object parseQmp(String text) {
        return new Json(text, true).whole();
    }

    /** {@code n} (a number this class reads: Long or BigDecimal, or any other Number) as an exact decimal. */
    public static BigDecimal decimal(Number n) {
        if (n instanceof BigDecimal d) {
            return d;
        }
        if (n instanceof Long || n instanceof Integer) {
            return BigDecimal.valueOf(n.longValue());
        }
        return new BigDecimal(n.toString());
    }

    private Object whole() {
        skipSpace();
        Object v = value(0);
        skipSpace();
        if (pos != text.length()) {
            throw error("unexpected text after the value");
        }
        return v;
    }

    private JsonException error(String what) {
        return new JsonException(what, pos);
    }

    private void skipSpace() {
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                return;
            }
            pos++;
        }
    }

    private Object value(int depth) {
        char c = peek();
        return switch (c) {
            case '{' -> object(depth + 1);
            case '[' -> array(depth + 1);
            case '"' -> string();
            case 't' -> literal("true", Boolean.TRUE);
            case 'f' -> literal("false", Boolean.FALSE);
            case 'n' -> literal("null", null);
            default -> {
                if (c == '\'' && qmp) {
                    yield string();
                }
                if (c == '-' || isDigit(c)) {
                    yield number();
                }
                throw error("expecting value");
            }
        };
    }

    private Object literal(String word, Object v) {
        if (!text.startsWith(word, pos)) {
            throw error("invalid keyword");
        }
        pos += word.length();
        return v;
    }

    private void enter(int depth) {
        if (depth > MAX_DEPTH) {
            throw error("too deeply nested (more than " + MAX_DEPTH + " levels)");
        }
        pos++; // '{' or '['
        skipSpace();
    }

    private Map<String, Object> object(int depth) {
        enter(depth);
        Map<String, Object> members = new LinkedHashMap<>();
        if (peek() == '}') {
            pos++;
            return members;
        }
        while (true) {
            skipSpace();
            char c = peek();
            if (c != '"' && !(c == '\'' && qmp)) {
                throw error("key is not a string in object");
            }
            int keyAt = pos;
            String key = string();
            skipSpace();
            if (peek() != ':') {
                throw error("missing : in object pair");
            }
            pos++;
            skipSpace();
            if (members.containsKey(key)) {
                pos = keyAt;
                throw error("duplicate key '" + key + "'");
            }
            members.put(key, value(depth));
            skipSpace();
            c = peek();
            if (c == '}') {
                pos++;
                return members;
            }
            if (c != ',') {
                throw error("expected separator in dict");
            }
            pos++;
        }
    }

    private List<Object> array(int depth) {
        enter(depth);
        List<Object> items = new ArrayList<>();
        if (peek() == ']') {
            pos++;
            return items;
        }
        while (true) {
            skipSpace();
            items.add(value(depth));
            skipSpace();
            char c = peek();
            if (c == ']') {
                pos++;
                return items;
            }
            if (c != ',') {
                throw error("expected separator in list");
            }
            pos++;
        }
    }

    /** The next character, or NUL at the end (which no rule accepts). */
    private char peek() {
        return pos < text.length() ? text.charAt(pos) : '\0';
    }

    private String string() {
        char quote = text.charAt(pos++);
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (pos >= text.length()) {
                throw error("missing end of string");
            }
            char c = text.charAt(pos++);
            if (c == quote) {
                return sb.toString();
            }
            if (c < 0x20) {
                pos--;
                throw error("control character in string");
            }
            if (c != '\\') {
                sb.append(c);
                continue;
            }
            if (pos >= text.length()) {
                throw error("missing end of string");
            }
            char e = text.charAt(pos++);
            switch (e) {
                case '"', '\\', '/' -> sb.append(e);
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'n' -> sb.append('\n');
                case 'r' -> sb.append('\r');
                case 't' -> sb.append('\t');
                case 'u' -> sb.append(hexEscape());
                default -> {
                    if (e == '\'' && qmp) {
                        sb.append(e);
                    } else {
                        throw error("invalid escape sequence in string");
                    }
                }
            }
        }
    }

    private char hexEscape() {
        if (pos + 4 > text.length()) {
            throw error("invalid escape sequence in string");
        }
        int cp = 0;
        for (int i = 0; i < 4; i++) {
            int d = Character.digit(text.charAt(pos), 16);
            if (d < 0) {
                throw error("invalid hex escape sequence in string");
            }
            pos++;
            cp = cp << 4 | d;
        }
        return (char) cp;
    }

    private Number number() {
        int start = pos;
        if (peek() == '-') {
            pos++;
        }
        if (peek() == '0') {
            pos++;
            if (isDigit(peek())) {
                throw error("invalid number: a leading zero");
            }
        } else if (isDigit(peek())) {
            digits();
        } else {
            throw error("invalid number");
        }
        boolean integral = true;
        if (peek() == '.') {
            integral = false;
            pos++;
            digits();
        }
        if (peek() == 'e' || peek() == 'E') {
            integral = false;
            pos++;
            if (peek() == '+' || peek() == '-') {
                pos++;
            }
            digits();
        }
        String literal = text.substring(start, pos);
        if (integral) {
            try {
                return Long.parseLong(literal);
            } catch (NumberFormatException tooBig) {
                // An integer beyond a long (an unsigned 64-bit TSC): exact below.
            }
        }
        return new BigDecimal(literal);
    }

    /** One or more digits (a fraction or an exponent must have one). */
    private void digits() {
        if (!isDigit(peek())) {
            throw error("invalid number");
        }
        while (isDigit(peek())) {
            pos++;
        }
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    // ---------------------------------------------------------------- writing

    /** {@code value} as compact JSON, members separated as QEMU prints them ({@code "a": 1, "b": 2}). */
    public static String write(Object value) {
        StringBuilder sb = new StringBuilder();
        write(value, sb, -1, 0);
        return sb.toString();
    }

    /** {@code value} as JSON indented by four spaces a level (QEMU's {@code -qmp-pretty}). */
    public static String writePretty(Object value) {
        StringBuilder sb = new StringBuilder();
        write(value, sb, 4, 0);
        return sb.toString();
    }

    private static void write(Object v, StringBuilder sb, int indent, int level) {
        if (v == null) {
            sb.append("null");
        } else if (v instanceof String s) {
            writeString(s, sb);
        } else if (v instanceof Boolean || v instanceof Long || v instanceof Integer || v instanceof BigDecimal) {
            sb.append(v);
        } else if (v instanceof Double d) {
            sb.append(d.isNaN() || d.isInfinite() ? "null" : Double.toString(d));
        } else if (v instanceof Map<?, ?> m) {
            if (m.isEmpty()) {
                sb.append("{}");
                return;
            }
            sb.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                separate(sb, first, indent, level + 1);
                first = false;
                writeString((String) e.getKey(), sb);
                sb.append(": ");
                write(e.getValue(), sb, indent, level + 1);
            }
            close(sb, '}', indent, level);
        } else if (v instanceof List<?> l) {
            if (l.isEmpty()) {
                sb.append("[]");
                return;
            }
            sb.append('[');
            boolean first = true;
            for (Object item : l) {
                separate(sb, first, indent, level + 1);
                first = false;
                write(item, sb, indent, level + 1);
            }
            close(sb, ']', indent, level);
        } else {
            throw new IllegalArgumentException("not a JSON value: " + v.getClass().getName());
        }
    }

    private static void separate(StringBuilder sb, boolean first, int indent, int level) {
        if (!first) {
            sb.append(indent < 0 ? ", " : ",");
        }
        if (indent >= 0) {
            sb.append('\n').append(" ".repeat(indent * level));
        }
    }

    private static void close(StringBuilder sb, char bracket, int indent, int level) {
        if (indent >= 0) {
            sb.append('\n').append(" ".repeat(indent * level));
        }
        sb.append(bracket);
    }

    private static void writeString(String s, StringBuilder sb) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20 || c > 0x7e) {
                        sb.append(String.format("\\u%04x", (int) c)); // ASCII out, as QMP's server
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
