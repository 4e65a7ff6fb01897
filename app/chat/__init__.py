"""The live chat between staff and the person at a device (seed 004, liveChat.ts), one concern
per module, used by the staff pages, the websocket, the device JSON API and the cleanup job:

access       who may chat on which ticket, and read its files
sessions     start, end, the automatic end (chat_cleanup)
messages     the message store: stored and committed before anything is broadcast
read_models  what each side sees (the JSON a device receives: app/devices/serializers.py)
broker       fan-out of events to the sockets (in-process, or Redis pub/sub)
socket       one websocket connection (/ws/chat)

Every write is committed before anything is broadcast (broker.publish_after_commit waits for
the commit of its unit of work: a request, a frame, a job): a receiver that is offline, or an
event that is lost, costs nothing, because clients resume from the last message number they
saw and read the rest from the database. Nothing is imported here.
"""
