"""The Discord adapter: discord.py in, the engine's port out. Start it with `bots.discord.bot.serve`.

translate  Discord messages and interactions -> ThreadKey + Incoming (pure)
adapter    events -> engine calls; slash command and button handlers
thread     DiscordThread, the ChatThread the engine posts through
render     Reply -> Discord messages; markdown rewriting and safe splitting in `markdown`
buttons    Export / Status / Credits as restart-proof DynamicItems
commands   the slash command tree
cdn        attachment downloads from Discord's CDN only
bot        the client, intents, endpoints, and `serve`
"""
