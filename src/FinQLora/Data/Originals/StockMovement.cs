using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FinQLora.Tasks;

namespace FinQLora.Data.Originals;

/// <summary>
/// Builds FLARE stock-movement rows (acl18, bigdata22, cikm18) from prices and tweets, as FLARE's rows
/// show them (checked against FLARE/PIXIU rows and the CIKM18 feature files):
/// <list type="bullet">
/// <item>features per trading day t, in percent: open/high/low relative to close, close and adj-close
/// change from t−1, and inc-k = mean(adj close over t−k+1..t) / adj close t − 1 for k = 5..30;</item>
/// <item>the context is the table of the <see cref="Window"/> = 10 trading days before the target day
/// (one decimal), then one line per calendar day from the first context day up to the day before
/// the target that has tweets: "YYYY-MM-DD: " + the tweets joined by '|', cut to 200 characters;</item>
/// <item>the label is the target day's adj-close move: Rise above +0.55%, Fall below −0.5%, days in
/// between are left out (StockNet's thresholds; the CIKM18/BigData22 label columns agree).</item>
/// </list>
/// Splits are chronological, by the target date (<see cref="Boundaries"/>): acl18 by StockNet's dates,
/// bigdata22 and cikm18 by the dates that reproduce FLARE's split sizes.
/// </summary>
public static class StockMovement
{
    public const int Window = 10;
    public const double RiseAbove = 0.55, FallBelow = -0.5;
    public const int TweetChars = 200;
    public const string Header = "date,open,high,low,close,adj-close,inc-5,inc-10,inc-15,inc-20,inc-25,inc-30";

    /// <summary>A trading day with its 11 features (percent) in the header's order after the date.</summary>
    public sealed record PriceDay(string Date, double[] Features)
    {
        public double Move => Features[4];
    }

    public static string Query(string ticker, string date, string context) =>
        $"Analyze the information and social media posts to determine if the closing price of ${ticker.ToLowerInvariant()} will ascend or descend at {date}. Please respond with either Rise or Fall.\nContext: {context}\nAnswer:";

    /// <summary>Features from raw daily prices (date, open, high, low, close, adj close), oldest first.</summary>
    public static List<PriceDay> FromRaw(IReadOnlyList<(string Date, double Open, double High, double Low, double Close, double Adj)> raw)
    {
        var days = new List<PriceDay>();
        for (int t = 30; t < raw.Count; t++)
        {
            var d = raw[t];
            var f = new double[11];
            f[0] = (d.Open / d.Close - 1) * 100;
            f[1] = (d.High / d.Close - 1) * 100;
            f[2] = (d.Low / d.Close - 1) * 100;
            f[3] = (d.Close / raw[t - 1].Close - 1) * 100;
            f[4] = (d.Adj / raw[t - 1].Adj - 1) * 100;
            for (int k = 5, j = 5; k <= 30; k += 5, j++)
            {
                double sum = 0;
                for (int i = 0; i < k; i++) sum += raw[t - i].Adj;
                f[j] = (sum / k / d.Adj - 1) * 100;
            }
            days.Add(new PriceDay(d.Date, f));
        }
        return days;
    }

    /// <summary>The rows of one ticker: every target day with a clear move and a full window before it.</summary>
    public static IEnumerable<(string Date, FlareRow Row)> Rows(string task, string ticker, IReadOnlyList<PriceDay> days, IReadOnlyDictionary<string, List<string>> tweetsByDate)
    {
        var choices = FlareTasks.Get(task).Choices;
        for (int i = Window; i < days.Count; i++)
        {
            var target = days[i];
            string? answer = target.Move > RiseAbove ? "Rise" : target.Move < FallBelow ? "Fall" : null;
            if (answer is null) continue;
            var sb = new StringBuilder(Header);
            for (int j = i - Window; j < i; j++)
                sb.Append('\n').Append(days[j].Date).Append(',').AppendJoin(',', days[j].Features.Select(Format));
            sb.Append("\n\n");
            var first = days[i - Window].Date;
            foreach (var date in tweetsByDate.Keys.Where(d => string.CompareOrdinal(d, first) >= 0 && string.CompareOrdinal(d, target.Date) < 0).Order(StringComparer.Ordinal))
            {
                var joined = string.Join('|', tweetsByDate[date]);
                if (joined.Length == 0) continue;
                sb.Append(date).Append(": ").Append(joined.Length > TweetChars ? joined[..TweetChars] : joined).Append('\n');
            }
            var context = sb.ToString();
            yield return (target.Date, new FlareRow
            {
                Id = $"{task}-{ticker.ToLowerInvariant()}-{target.Date}", Task = task, Query = Query(ticker, target.Date, context),
                Answer = answer, Text = context, Choices = choices, Gold = answer == "Rise" ? 0 : 1,
            });
        }
    }

    /// <summary>One decimal, as Python's "%.1f" (negative zero kept as "-0.0").</summary>
    public static string Format(double x)
    {
        var s = Math.Round(x, 1, MidpointRounding.ToEven).ToString("0.0", CultureInfo.InvariantCulture);
        return s == "0.0" && (x < 0 || double.IsNegative(x)) ? "-0.0" : s;
    }

    /// <summary>All rows of a StockNet (acl18) or GLT (cikm18, bigdata22) archive, with their splits.</summary>
    public static List<FlareRow> FromArchive(StockArchive archive, string task)
    {
        var byTicker = new Dictionary<string, List<PriceDay>>(StringComparer.Ordinal);
        var tweets = new Dictionary<string, Dictionary<string, List<string>>>(StringComparer.Ordinal);
        if (task == "acl18")
        {
            foreach (var (path, bytes) in archive.In("price/raw"))
                byTicker[Path.GetFileNameWithoutExtension(path)] = FromRaw(ParseRaw(path, bytes));
            foreach (var (ticker, date, bytes) in archive.Nested("tweet/preprocessed"))
                Tweets(tweets, ticker, date).AddRange(TweetTexts(bytes, tokens: true));
        }
        else
        {
            foreach (var (path, bytes) in archive.In("price"))
                byTicker[Path.GetFileNameWithoutExtension(path)] = ParseFeatures(path, bytes);
            foreach (var (ticker, date, bytes) in archive.Nested("tweet"))
                Tweets(tweets, ticker, date).AddRange(TweetTexts(bytes, tokens: false));
        }
        if (byTicker.Count == 0) throw new FinQLoraException($"{archive.Source}: no price files found for {task}");
        var all = byTicker.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .SelectMany(kv => Rows(task, kv.Key, kv.Value, tweets.GetValueOrDefault(kv.Key) ?? [])).ToList();
        var (from, valid, test, to) = Boundaries(task);
        return all.Where(x => string.CompareOrdinal(x.Date, from) >= 0 && string.CompareOrdinal(x.Date, to) < 0)
            .Select(x => x.Row with { Split = string.CompareOrdinal(x.Date, valid) < 0 ? "train" : string.CompareOrdinal(x.Date, test) < 0 ? "valid" : "test" }).ToList();
    }

    /// <summary>
    /// Target-date boundaries [from, valid, test, to) of each task's splits. These reproduce FLARE's
    /// split sizes exactly for acl18 valid/test (2,555 / 3,720), bigdata22 (4,897 / 798 / 1,472) and
    /// cikm18 (3,396 / 431 / 1,143) from the archives in FinQLora's shared data.
    /// </summary>
    public static (string From, string Valid, string Test, string To) Boundaries(string task) => task switch
    {
        "acl18" => ("2014-01-01", "2015-08-01", "2015-10-01", "2016-01-01"),
        "bigdata22" => ("2020-04-01", "2020-10-01", "2020-11-01", "2021-01-01"),
        "cikm18" => ("0000-00-00", "2017-10-02", "2017-11-02", "9999-99-99"),
        _ => throw new FinQLoraException($"{task} is not a stock-movement task"),
    };

    private static List<string> Tweets(Dictionary<string, Dictionary<string, List<string>>> all, string ticker, string date)
    {
        if (!all.TryGetValue(ticker, out var byDate)) all[ticker] = byDate = new(StringComparer.Ordinal);
        if (!byDate.TryGetValue(date, out var list)) byDate[date] = list = [];
        return list;
    }

    /// <summary>Tweet texts of one day's file (JSON per line; StockNet's "text" is a token list, GLT's a string).</summary>
    private static IEnumerable<string> TweetTexts(byte[] bytes, bool tokens)
    {
        foreach (var line in Encoding.UTF8.GetString(bytes).Split('\n'))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonNode? text;
            try { text = JsonNode.Parse(line)?["text"]; }
            catch (JsonException) { continue; }
            if (text is JsonArray a) yield return string.Join(' ', a.Select(x => x?.ToString() ?? ""));
            else if (text is JsonValue v && v.TryGetValue<string>(out var s)) yield return s;
        }
    }

    private static List<(string, double, double, double, double, double)> ParseRaw(string path, byte[] bytes)
    {
        var list = new List<(string, double, double, double, double, double)>();
        foreach (var (line, n) in Encoding.UTF8.GetString(bytes).Split('\n').Select((l, i) => (l.Trim(), i + 1)).Skip(1))
        {
            if (line.Length == 0) continue;
            var f = line.Split(',');
            if (f.Length >= 6 && f.Skip(1).Take(5).Any(x => x == "null")) continue;   // a day the source has no price for
            if (f.Length < 6 || !f.Skip(1).Take(5).All(x => double.TryParse(x, NumberStyles.Float, CultureInfo.InvariantCulture, out _)))
                throw new FinQLoraException($"{path}:{n}: expected Date,Open,High,Low,Close,Adj Close,…");
            var v = f.Skip(1).Take(5).Select(x => double.Parse(x, CultureInfo.InvariantCulture)).ToArray();
            list.Add((f[0], v[0], v[1], v[2], v[3], v[4]));
        }
        return list.OrderBy(x => x.Item1, StringComparer.Ordinal).ToList();
    }

    private static List<PriceDay> ParseFeatures(string path, byte[] bytes)
    {
        var days = new List<PriceDay>();
        foreach (var (line, n) in Encoding.UTF8.GetString(bytes).Split('\n').Select((l, i) => (l.Trim(), i + 1)).Skip(1))
        {
            if (line.Length == 0) continue;
            var f = line.Split(',');
            if (f.Length >= 12 && f.Skip(1).Take(11).Any(x => x == "null" || x.Length == 0)) continue;
            if (f.Length < 12 || !f.Skip(1).Take(11).All(x => double.TryParse(x, NumberStyles.Float, CultureInfo.InvariantCulture, out _)))
                throw new FinQLoraException($"{path}:{n}: expected date and 11 features (c_open … adj_sum_30)");
            days.Add(new PriceDay(f[0], f.Skip(1).Take(11).Select(x => double.Parse(x, CultureInfo.InvariantCulture)).ToArray()));
        }
        return days.OrderBy(d => d.Date, StringComparer.Ordinal).ToList();
    }
}
