package org.tscvm.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The monitor's JSON parser and writer, and the framer that cuts a byte stream into messages. */
class JsonTest {
    @Test
    void parsesEveryKindOfValue() throws Exception {
        Object v = Json.parse(" {\"a\": [1, -2, 3.5, 1e3, 18446744073709551616, true, false, null],"
                + " \"s\": \"q\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20ac\", 'single': 'it\\'s'} ");
        assertThat(v).isEqualTo(Map.of(
                "a", Arrays.asList(1L, -2L, 3.5, 1000.0, 1.8446744073709552E19, true, false, null),
                "s", "q\"\\/\b\f\n\r\t\u00e9\u20ac",
                "single", "it's"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "{", "{\"a\" 1}", "{\"a\": 1,}", "[1,]", "[1 2]", "{a: 1}", "01", "1.", "-", "tru",
        "\"unterminated", "\"bad \\x escape\"", "\"\\u12g4\"", "{\"a\": 1} x", "{\"k\": 1, \"k\": 2}", "nul"})
    void refusesWhatIsNotJson(String text) {
        assertThatThrownBy(() -> Json.parse(text)).isInstanceOf(Json.ParseException.class)
                .hasMessageStartingWith("JSON parse error, ");
    }

    @Test
    void nestingIsBounded() throws Exception {
        String ok = "[".repeat(Json.MAX_DEPTH) + "]".repeat(Json.MAX_DEPTH);
        assertThat(Json.parse(ok)).isInstanceOf(List.class);
        String deep = "[".repeat(Json.MAX_DEPTH + 1) + "]".repeat(Json.MAX_DEPTH + 1);
        assertThatThrownBy(() -> Json.parse(deep)).hasMessageContaining("nested");
    }

    @Test
    void writesCompactAsciiAndPrettyForms() throws Exception {
        Map<String, Object> v = QmpCommands.ordered("return", QmpCommands.ordered("s", "é\n\"x\"", "n", List.of(1L, 2.5, true)),
                "id", null);
        String compact = Json.write(v);
        assertThat(compact).isEqualTo("{\"return\": {\"s\": \"\\u00e9\\n\\\"x\\\"\", \"n\": [1, 2.5, true]}, \"id\": null}");
        assertThat(Json.parse(compact)).isEqualTo(v);
        String pretty = Json.writePretty(v);
        assertThat(pretty).contains("\n    \"return\": {\n        \"s\"");
        assertThat(Json.parse(pretty)).isEqualTo(v);
        assertThat(Json.write(Map.of())).isEqualTo("{}");
    }

    private static List<Object> frame(String stream) throws IOException {
        return frame(stream.getBytes(StandardCharsets.UTF_8));
    }

    private static List<Object> frame(byte[] stream) throws IOException {
        QmpReader r = new QmpReader(new ByteArrayInputStream(stream));
        List<Object> items = new ArrayList<>();
        QmpReader.Item item;
        while ((item = r.next()) != null) {
            items.add(item instanceof QmpReader.Item.Text t ? t.json() : ((QmpReader.Item.Error) item).desc());
        }
        return items;
    }

    @Test
    void theFramerCutsMessagesAtTheirClosingBracketNewlinesOrNot() throws IOException {
        assertThat(frame("{\"a\": \"}{\"}{\"b\": [1, {\"c\": 2}]}\n\n  {'d': '\\''}\r\n"))
                .containsExactly("{\"a\": \"}{\"}", "{\"b\": [1, {\"c\": 2}]}", "{'d': '\\''}");
        assertThat(frame("{\n \"execute\":\n \"stop\"\n}")).containsExactly("{\n \"execute\":\n \"stop\"\n}");
        assertThat(frame("42 true{\"x\": 1}")).containsExactly("42", "true", "{\"x\": 1}");
        assertThat(frame("{\"cut off\": ")).isEmpty(); // the end of the stream drops a partial message
    }

    @Test
    void theFramerReportsLexicalErrorsAndStartsAfresh() throws IOException {
        List<Object> items = frame("{\"execute\": \"st\u0001{\"execute\": \"cont\"}");
        assertThat(items).hasSize(2);
        assertThat((String) items.get(0)).startsWith("JSON parse error, invalid character 0x1");
        assertThat(items.get(1)).isEqualTo("{\"execute\": \"cont\"}");
        assertThat(frame("]{}")).containsExactly("JSON parse error, unexpected ']'", "{}");
        byte[] badUtf8 = {'"', (byte) 0xc3, '"'};
        assertThat(frame(badUtf8)).containsExactly("JSON parse error, invalid UTF-8 sequence");
    }

    @Test
    void theFramerSkipsWhatIsTooLongOrTooDeepWithoutStoringIt() throws IOException {
        String huge = "{\"x\": \"" + "y".repeat(QmpReader.MAX_MESSAGE_BYTES) + "\"}";
        assertThat(frame(huge + "{}")).containsExactly(
                "JSON parse error, message longer than " + QmpReader.MAX_MESSAGE_BYTES + " bytes", "{}");
        int n = 10_000_000; // 20 MB of brackets: counted, never stored
        StringBuilder deep = new StringBuilder(2 * n + 2);
        deep.append("[".repeat(n)).append("]".repeat(n)).append("{}");
        List<Object> items = frame(deep.toString());
        assertThat(items).hasSize(2);
        assertThat((String) items.get(0)).contains("too deeply nested");
        assertThat(items.get(1)).isEqualTo("{}");
    }
}
