var builder = WebApplication.CreateBuilder(args);
var app = builder.Build();
app.MapGet("/health", () => TypedResults.Ok());
app.Run();
